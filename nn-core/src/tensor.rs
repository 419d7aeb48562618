//! Fixed-size tensors whose shapes are typenum dimensions.
//!
//! A [`Tensor<S>`] is a flat, row-major array of `f32` whose length is fixed by its [`Shape`] `S`.
//! One-dimensional vectors use [`Shape1<N>`]; channel-first signals and images (`C x L`, `C x H x W`)
//! use [`Shape2`] and [`Shape3`] in the same scheme: the shape type says the dimensions, the storage
//! is a [`GenericArray`] of the product length, so a layer's type states the sizes it accepts and
//! rustc rejects a tensor of any other shape.

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Index, IndexMut, Mul};

use generic_array::{ArrayLength, GenericArray, IntoArrayLength};
use typenum::{Const, Prod, Unsigned};

use crate::names::{DimName, Over1023};

/// A tensor shape: its dimensions and the length of its flat storage.
///
/// Implemented by [`Shape1`], [`Shape2`] and [`Shape3`]; the `network!` macro names these with
/// concrete typenum dimensions.
pub trait Shape: 'static + Copy + Default + fmt::Debug + Send + Sync {
    /// Number of elements, as a typenum unsigned (the storage length).
    type Len: ArrayLength;
    /// Number of elements.
    const LEN: usize;
    /// Number of dimensions (1, 2 or 3).
    const RANK: usize;
    /// The dimensions, outermost first, padded with 1 at the end to three entries.
    const DIMS: [usize; 3];
}

/// Shape of a vector of `N` values (`[N]` in the DSL).
pub struct Shape1<N>(PhantomData<N>);
/// Shape of `C` channels of length `L` (`[C, L]` in the DSL), stored channel-major.
pub struct Shape2<C, L>(PhantomData<(C, L)>);
/// Shape of `C` channels of `H x W` images (`[C, H, W]` in the DSL), stored C, H, W row-major.
pub struct Shape3<C, H, W>(PhantomData<(C, H, W)>);

macro_rules! marker_impls {
    ($name:ident < $($p:ident),* >) => {
        impl<$($p),*> Clone for $name<$($p),*> { fn clone(&self) -> Self { *self } }
        impl<$($p),*> Copy for $name<$($p),*> {}
        impl<$($p),*> Default for $name<$($p),*> { fn default() -> Self { $name(PhantomData) } }
        // SAFETY-free: the shape types hold no data; PhantomData of typenum markers is Send + Sync.
    };
}
marker_impls!(Shape1<N>);
marker_impls!(Shape2<C, L>);
marker_impls!(Shape3<C, H, W>);

impl<N: Unsigned> fmt::Debug for Shape1<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", N::USIZE)
    }
}
impl<C: Unsigned, L: Unsigned> fmt::Debug for Shape2<C, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", C::USIZE, L::USIZE)
    }
}
impl<C: Unsigned, H: Unsigned, W: Unsigned> fmt::Debug for Shape3<C, H, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}, {}]", C::USIZE, H::USIZE, W::USIZE)
    }
}

impl<N> Shape for Shape1<N>
where
    N: ArrayLength + Send + Sync + 'static,
{
    type Len = N;
    const LEN: usize = N::USIZE;
    const RANK: usize = 1;
    const DIMS: [usize; 3] = [N::USIZE, 1, 1];
}

impl<C, L> Shape for Shape2<C, L>
where
    C: Unsigned + Mul<L> + Send + Sync + 'static,
    L: Unsigned + Send + Sync + 'static,
    Prod<C, L>: ArrayLength,
{
    type Len = Prod<C, L>;
    const LEN: usize = C::USIZE * L::USIZE;
    const RANK: usize = 2;
    const DIMS: [usize; 3] = [C::USIZE, L::USIZE, 1];
}

impl<C, H, W> Shape for Shape3<C, H, W>
where
    C: Unsigned + Mul<H> + Send + Sync + 'static,
    H: Unsigned + Send + Sync + 'static,
    W: Unsigned + Send + Sync + 'static,
    Prod<C, H>: Mul<W>,
    Prod<Prod<C, H>, W>: ArrayLength,
{
    type Len = Prod<Prod<C, H>, W>;
    const LEN: usize = C::USIZE * H::USIZE * W::USIZE;
    const RANK: usize = 3;
    const DIMS: [usize; 3] = [C::USIZE, H::USIZE, W::USIZE];
}

/// A fixed-size `f32` tensor of shape `S`, stored flat in row-major order.
///
/// ```
/// use nn_core::{Tensor, Shape1};
/// use typenum::U3;
/// let t: Tensor<Shape1<U3>> = [0.5, 2.0, -1.0].into();
/// assert_eq!(t.as_slice(), &[0.5, 2.0, -1.0]);
/// assert_eq!(t.argmax(), 1);
/// let err = Tensor::<Shape1<U3>>::try_from(&[1.0f32, 2.0][..]).unwrap_err();
/// assert_eq!(err.to_string(), "expected 3 values for a tensor of shape [3], found 2");
/// ```
#[repr(transparent)]
pub struct Tensor<S: Shape> {
    data: GenericArray<f32, S::Len>,
}

/// A vector of `N` values: `Tensor<Shape1<N>>`.
pub type Vector<N> = Tensor<Shape1<N>>;

impl<S: Shape> Clone for Tensor<S> {
    #[inline]
    fn clone(&self) -> Self {
        // SAFETY: `f32` is `Copy`, so a bitwise copy of the array is a valid clone (a memcpy,
        // where `GenericArray::clone` collects the elements one by one through an iterator).
        let data = unsafe { core::ptr::read(&self.data) };
        Tensor { data }
    }

    /// Copies in place (no temporary tensor, which matters for large ones).
    #[inline]
    fn clone_from(&mut self, source: &Self) {
        self.as_mut_slice().copy_from_slice(source.as_slice());
    }
}

impl<S: Shape> Default for Tensor<S> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<S: Shape> PartialEq for Tensor<S> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<S: Shape> fmt::Debug for Tensor<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor{:?}", S::default())?;
        f.debug_list().entries(self.as_slice().iter()).finish()
    }
}

impl<S: Shape> Tensor<S> {
    /// Number of elements.
    pub const LEN: usize = S::LEN;

    /// A tensor of zeros.
    #[inline]
    pub const fn zeros() -> Self {
        Tensor {
            // SAFETY: `GenericArray<f32, N>` is `N` consecutive `f32`s, for which all-zero bits
            // are `0.0`. (This compiles to a plain memset; `GenericArray::default` writes the
            // elements one by one through an iterator.)
            data: unsafe { core::mem::zeroed() },
        }
    }

    /// A tensor with every element equal to `value`.
    pub fn filled(value: f32) -> Self {
        let mut t = Self::zeros();
        t.as_mut_slice().fill(value);
        t
    }

    /// A tensor whose elements are `f(index)` in flat row-major order.
    pub fn from_fn(mut f: impl FnMut(usize) -> f32) -> Self {
        let mut t = Self::zeros();
        for (i, v) in t.as_mut_slice().iter_mut().enumerate() {
            *v = f(i);
        }
        t
    }

    /// The elements in flat row-major order.
    #[inline]
    pub fn as_slice(&self) -> &[f32] {
        self.data.as_slice()
    }

    /// The elements in flat row-major order, mutably.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data.as_mut_slice()
    }

    /// The elements of consecutive tensors (a batch) as one flat slice: tensor `b` starts at
    /// `b * S::LEN`.
    #[inline]
    pub fn flatten_batch(batch: &[Self]) -> &[f32] {
        // SAFETY: `Tensor<S>` is `repr(transparent)` over `GenericArray<f32, S::Len>`, which is
        // `S::LEN` consecutive `f32`s with no padding, so `batch.len()` tensors are
        // `batch.len() * S::LEN` consecutive initialized `f32`s within one allocation.
        unsafe { core::slice::from_raw_parts(batch.as_ptr() as *const f32, batch.len() * S::LEN) }
    }

    /// [`Tensor::flatten_batch`], mutably.
    #[inline]
    pub fn flatten_batch_mut(batch: &mut [Self]) -> &mut [f32] {
        // SAFETY: as in `flatten_batch`; the exclusive borrow covers the whole slice.
        unsafe {
            core::slice::from_raw_parts_mut(batch.as_mut_ptr() as *mut f32, batch.len() * S::LEN)
        }
    }

    /// The underlying generic array.
    #[inline]
    pub fn as_array(&self) -> &GenericArray<f32, S::Len> {
        &self.data
    }

    /// The underlying generic array, mutably.
    #[inline]
    pub fn as_mut_array(&mut self) -> &mut GenericArray<f32, S::Len> {
        &mut self.data
    }

    /// Wraps a generic array of the right length.
    #[inline]
    pub fn from_array(data: GenericArray<f32, S::Len>) -> Self {
        Tensor { data }
    }

    /// Views a slice of exactly `S::LEN` values as a tensor, or `Err` naming both lengths.
    pub fn from_slice_ref(slice: &[f32]) -> Result<&Self, ShapeError> {
        let data = GenericArray::<f32, S::Len>::try_from_slice(slice).map_err(|_| ShapeError {
            expected: S::LEN,
            found: slice.len(),
            dims: S::DIMS,
            rank: S::RANK,
        })?;
        // SAFETY: `Tensor<S>` is `#[repr(transparent)]` over `GenericArray<f32, S::Len>`.
        Ok(unsafe { &*(data as *const GenericArray<f32, S::Len> as *const Self) })
    }

    /// Views an array of exactly `S::LEN` values as a tensor, without copying. A length that
    /// differs is rejected when the function is instantiated (a post-monomorphization error);
    /// `network!` only calls it with the right length.
    #[inline]
    pub fn from_array_ref<const N: usize>(values: &[f32; N]) -> &Self {
        const {
            assert!(
                N == S::LEN,
                "the array's length differs from the tensor's length"
            )
        };
        // SAFETY: `Tensor<S>` is `repr(transparent)` over `GenericArray<f32, S::Len>`, which has the
        // layout of `[f32; S::LEN]`; the assertion above makes the lengths equal.
        unsafe { &*(values as *const [f32; N] as *const Self) }
    }

    /// Index of the largest element (the first one on ties); NaN is never chosen over a number.
    pub fn argmax(&self) -> usize {
        argmax(self.as_slice())
    }
}

/// Index of the largest value of a slice (the first on ties, NaN never wins); 0 for an empty slice.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    let mut best_v = f32::NEG_INFINITY;
    let mut seen = false;
    for (i, &v) in values.iter().enumerate() {
        if !seen || v > best_v {
            if v.is_nan() {
                continue;
            }
            best = i;
            best_v = v;
            seen = true;
        }
    }
    best
}

impl<S: Shape> Index<usize> for Tensor<S> {
    type Output = f32;
    #[inline]
    fn index(&self, i: usize) -> &f32 {
        &self.data[i]
    }
}

impl<S: Shape> IndexMut<usize> for Tensor<S> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut f32 {
        &mut self.data[i]
    }
}

/// A shape's names in compiler errors: the nested array type of its dimensions (`[[f32; 8];
/// 3]` for `[3, 8]`) and the flat array of its length (`[f32; 24]`).
///
/// Implemented for every [`Shape1`], [`Shape2`] and [`Shape3`]: the traits that check how a
/// program uses tensors, networks and data sets name shapes this way, so that a message shows
/// `[f32; 4]` rather than the typenum type of 4. Dimensions over 1023 are named
/// [`Over1023`](crate::Over1023).
pub trait ShapeName: Shape {
    /// The dimensions as nested arrays, outermost first: `[[[f32; W]; H]; C]` for `[C, H, W]`.
    type Array;
    /// The flat storage as an array: `[f32; LEN]`.
    type Flat;
}

impl<N> ShapeName for Shape1<N>
where
    Self: Shape,
    N: DimName,
{
    type Array = N::Array<f32>;
    type Flat = N::Array<f32>;
}

impl<C, L> ShapeName for Shape2<C, L>
where
    Self: Shape,
    C: DimName,
    L: DimName,
    <Self as Shape>::Len: DimName,
{
    type Array = C::Array<L::Array<f32>>;
    type Flat = <<Self as Shape>::Len as DimName>::Array<f32>;
}

impl<C, H, W> ShapeName for Shape3<C, H, W>
where
    Self: Shape,
    C: DimName,
    H: DimName,
    W: DimName,
    <Self as Shape>::Len: DimName,
{
    type Array = C::Array<H::Array<W::Array<f32>>>;
    type Flat = <<Self as Shape>::Len as DimName>::Array<f32>;
}

/// An array that converts into a tensor whose flat storage is named `T` (see [`ShapeName`]):
/// `[f32; N]` for `T = [f32; N]`.
///
/// This is the bound behind [`Tensor::from`] and `From<[f32; N]> for Tensor<S>`; when it fails,
/// the array has the wrong number of values for the tensor it should become, and the message
/// names both lengths.
#[diagnostic::on_unimplemented(
    message = "expected an array of the tensor's length, `{T}`, found `{Self}`",
    label = "this array's length is not the tensor's (`{T}`)",
    note = "a tensor's length is the product of its dimensions; a network's input length is `Net::INPUT_LEN`",
    note = "to check the length at run time instead, use `Tensor::try_from(&values[..])` (or `nn::Input::<Net>::try_from(..)`), which returns `Err` on a mismatch"
)]
pub trait FitsTensor<T> {
    /// The values, as many as the tensor holds.
    fn values(&self) -> &[f32];
}

// Both impls are left out of the messages (`do_not_recommend`): rustc would list them as "other
// types that implement `FitsTensor<T>`", which says nothing about the array at hand.
#[diagnostic::do_not_recommend]
impl<const N: usize> FitsTensor<[f32; N]> for [f32; N] {
    fn values(&self) -> &[f32] {
        self
    }
}

/// Tensors of more than 1023 values: as long as typenum names the array's length `N`.
#[diagnostic::do_not_recommend]
impl<const N: usize, L> FitsTensor<Over1023<f32, L>> for [f32; N]
where
    Const<N>: IntoArrayLength<ArrayLength = L>,
{
    fn values(&self) -> &[f32] {
        self
    }
}

impl<S: ShapeName> Tensor<S> {
    /// A tensor holding `values`, an array of exactly `S::LEN` values (checked at compile time;
    /// the message names both lengths). The same as `From<[f32; N]>`, which `.into()` uses.
    ///
    /// ```
    /// use nn_core::{Shape1, Tensor};
    /// use typenum::U3;
    /// let t = Tensor::<Shape1<U3>>::from([0.5, 2.0, -1.0]);
    /// assert_eq!(t.as_slice(), &[0.5, 2.0, -1.0]);
    /// ```
    #[allow(clippy::should_implement_trait)] // `From` is implemented too; this names the lengths
    pub fn from<A: FitsTensor<S::Flat>>(values: A) -> Self {
        let mut t = Self::zeros();
        t.as_mut_slice().copy_from_slice(values.values());
        t
    }
}

impl<S: ShapeName, const N: usize> From<[f32; N]> for Tensor<S>
where
    [f32; N]: FitsTensor<S::Flat>,
{
    fn from(values: [f32; N]) -> Self {
        // The inherent function (it takes precedence over this trait's).
        Self::from(values)
    }
}

impl<S: Shape> TryFrom<&[f32]> for Tensor<S> {
    type Error = ShapeError;
    fn try_from(slice: &[f32]) -> Result<Self, ShapeError> {
        Self::from_slice_ref(slice).cloned()
    }
}

/// A slice of the wrong length was given for a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeError {
    /// The tensor's length.
    pub expected: usize,
    /// The slice's length.
    pub found: usize,
    dims: [usize; 3],
    rank: usize,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected {} values for a tensor of shape [",
            self.expected
        )?;
        for (i, d) in self.dims[..self.rank].iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "], found {}", self.found)
    }
}

impl core::error::Error for ShapeError {}
