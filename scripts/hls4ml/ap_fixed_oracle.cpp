// Oracle for nn-core's fixed_point module: prints what Xilinx's ap_fixed (the copy of the
// ap_types headers shipped inside the hls4ml package) computes for
//   D  conversions from double (the C++ `ap_fixed<...> x = double;`),
//   C  casts between types (ap_fixed's converting constructor / operator=),
//   M  exact products (operator*) and  A  exact sums (operator+),
// for 14 shapes (W, I, signed) times all 7 quantization and 4 overflow modes.
// Built and run by make_ap_fixed_casts.py, which turns the output into
// tests/fixtures/hls4ml/ap_fixed_casts.json. One line per test:
//   D <spec> <hex double> <raw>          C <src spec> <dst spec> <raw in> <raw out>
//   M/A <spec a> <spec b> <raw a> <raw b> <W> <I> <signed> <raw out>
// where <spec> is "W,I,S,Q,O" and raws are the two's-complement integers (sign-extended).
#include <ap_fixed.h>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
using Fx = typename std::conditional<S, ap_fixed<W, I, Q, O>, ap_ufixed<W, I, Q, O>>::type;

static const char *qname(ap_q_mode q) {
    switch (q) {
    case AP_RND: return "AP_RND";
    case AP_RND_ZERO: return "AP_RND_ZERO";
    case AP_RND_MIN_INF: return "AP_RND_MIN_INF";
    case AP_RND_INF: return "AP_RND_INF";
    case AP_RND_CONV: return "AP_RND_CONV";
    case AP_TRN: return "AP_TRN";
    case AP_TRN_ZERO: return "AP_TRN_ZERO";
    }
    return "?";
}
static const char *oname(ap_o_mode o) {
    switch (o) {
    case AP_SAT: return "AP_SAT";
    case AP_SAT_ZERO: return "AP_SAT_ZERO";
    case AP_SAT_SYM: return "AP_SAT_SYM";
    case AP_WRAP: return "AP_WRAP";
    case AP_WRAP_SM: return "AP_WRAP_SM";
    }
    return "?";
}

// Signedness from the type itself (T(-1) < T(0) fails for types that cannot hold -1).
template <class T> struct Signed;
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N> struct Signed<ap_fixed<W, I, Q, O, N>> {
    static const bool value = true;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N> struct Signed<ap_ufixed<W, I, Q, O, N>> {
    static const bool value = false;
};

template <class T> void spec(char *buf) {
    std::sprintf(buf, "%d,%d,%d,%s,%s", T::width, T::iwidth, (int)Signed<T>::value, qname(T::qmode),
                 oname(T::omode));
}

template <class T> int64_t raw(const T &x) {
    uint64_t u = x.bits_to_uint64();
    const int w = T::width;
    const bool s = Signed<T>::value;
    if (w < 64) {
        u &= (~0ull) >> (64 - w);
        if (s && ((u >> (w - 1)) & 1)) u |= (~0ull) << w;
    }
    return (int64_t)u;
}

template <class T> T from_raw(int64_t r) {
    T x;
    x.setBits((uint64_t)r);
    return x;
}

static const double DOUBLES[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 0.75, -0.75, 1.5, -1.5, 2.5, -2.5, 3.5, -3.5,
    0.1, -0.1, 0.3, -0.3, 0.7, -0.7, 0.9999999, -0.9999999, 1.0000001, -1.0000001,
    3.14159265358979, -3.14159265358979, 2.718281828459045, -2.718281828459045,
    0.0009765625, -0.0009765625, 0.00048828125, -0.00048828125, 0.00146484375, -0.00146484375,
    0.000244140625, -0.000244140625, 1e-9, -1e-9, 1e-300, -1e-300, 5e-324, -5e-324,
    7.99, -7.99, 8.0, -8.0, 8.99, -8.99, 15.5, -15.5, 16.0, -16.0, 31.9990234375, -32.0,
    32.0, -32.0009765625, 31.99951171875, -31.99951171875, 63.5, -64.25, 100.0, -100.0,
    127.75, -128.5, 255.5, -256.0, 511.123, -511.123, 1000.0, -1000.0, 4096.5, -4097.25,
    65536.0, -65536.0, 1e9, -1e9, 2147483647.5, -2147483648.5, 4294967296.0, -4294967296.0,
    1e18, -1e18, 9.3e18, -9.3e18, 1e30, -1e30, 1e300, -1e300, INFINITY, -INFINITY,
    0.4048085213, -0.2394002974, 0.0780111551, -0.1958743185, 0.1234567890, -0.9876543210,
    0.03125, -0.03125, 0.09375, -0.09375, 0.15625, -0.15625, 0.015625, -0.015625,
    0.0078125, -0.0078125, 6.0, -6.0, 4.0, -4.0, 2.0, -2.0, 12.0, -12.0, 0.375, -0.375,
    0.625, -0.625, 0.875, -0.875, 0.125, -0.125, 0.1875, -0.1875, 1.25, -1.25, 1.75, -1.75,
};

template <class T> void from_double() {
    char s[64];
    spec<T>(s);
    for (double d : DOUBLES) {
        T x = d;
        std::printf("D %s %a %" PRId64 "\n", s, d, raw(x));
    }
}

// Deterministic raw values of a source type: exhaustive up to 8 bits, else extremes, small
// values and LCG samples.
template <class T> int n_raws() { return T::width <= 8 ? (1 << T::width) : 48; }
template <class T> int64_t raw_at(int i) {
    const int w = T::width;
    const bool s = Signed<T>::value;
    const int64_t lo = s ? -(int64_t(1) << (w - 1)) : 0;
    const int64_t hi = s ? (int64_t(1) << (w - 1)) - 1 : (w == 64 ? INT64_MAX : (int64_t(1) << w) - 1);
    if (w <= 8) return lo + i;
    if (i < 8) {
        const int64_t fixed[8] = {lo, lo + 1, hi, hi - 1, 0, 1, s ? -1 : 2, s ? -2 : 3};
        return fixed[i];
    }
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) ^ (0xD1B54A32D192ED03ull * (uint64_t)w);
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    // half of the samples near zero (fewer significant bits), half over the whole range
    int bits = (i % 2) ? w : 1 + (int)(x % (uint64_t)w);
    uint64_t v = x >> 7;
    if (bits < 64) v &= (~0ull) >> (64 - bits);
    int64_t r = (int64_t)v;
    if (s && bits == w && ((v >> (w - 1)) & 1)) r = (int64_t)(v | ((~0ull) << w));
    if (s && bits < w && (x & 1)) r = -r;
    if (r < lo) r = lo;
    if (r > hi) r = hi;
    return r;
}

template <class Src, class Dst> void cast() {
    // ap_fixed's operator= reads bit F2 - F - 1 of the source before checking that it exists:
    // when that is past the source's MSB the C simulation aborts on an assertion
    // (ap_private.h "Attempting to read bit beyond MSB"). Such casts are left out.
    const int f_src = Src::width - Src::iwidth, f_dst = Dst::width - Dst::iwidth;
    if (f_src - f_dst - 1 >= Src::width) return;
    char a[64], b[64];
    spec<Src>(a);
    spec<Dst>(b);
    for (int i = 0; i < n_raws<Src>(); i++) {
        Src x = from_raw<Src>(raw_at<Src>(i));
        Dst y = x;
        std::printf("C %s %s %" PRId64 " %" PRId64 "\n", a, b, raw(x), raw(y));
    }
}

template <class A, class B> void arith() {
    char a[64], b[64];
    spec<A>(a);
    spec<B>(b);
    for (int i = 0; i < 48; i++) {
        A x = from_raw<A>(raw_at<A>((i * 7) % n_raws<A>()));
        B y = from_raw<B>(raw_at<B>((i * 13 + 5) % n_raws<B>()));
        auto p = x * y;
        typedef decltype(p) P;
        std::printf("M %s %s %" PRId64 " %" PRId64 " %d %d %d %" PRId64 "\n", a, b, raw(x), raw(y), P::width,
                    P::iwidth, (int)Signed<P>::value, raw(p));
        auto q = x + y;
        typedef decltype(q) Q;
        std::printf("A %s %s %" PRId64 " %" PRId64 " %d %d %d %" PRId64 "\n", a, b, raw(x), raw(y), Q::width,
                    Q::iwidth, (int)Signed<Q>::value, raw(q));
    }
}

// Sources for the casts: two exhaustive small types, an accumulator-like and a product-like one.
typedef ap_fixed<7, 3> S1;
typedef ap_ufixed<6, 2> S2;
typedef ap_fixed<24, 10> S3;
typedef ap_fixed<40, 16> S4;

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O> void target() {
    typedef Fx<W, I, S, Q, O> T;
    from_double<T>();
    cast<S1, T>();
    cast<S2, T>();
    cast<S3, T>();
    cast<S4, T>();
}

template <int W, int I, bool S, ap_o_mode O> void qmodes() {
    target<W, I, S, AP_TRN, O>();
    target<W, I, S, AP_TRN_ZERO, O>();
    target<W, I, S, AP_RND, O>();
    target<W, I, S, AP_RND_ZERO, O>();
    target<W, I, S, AP_RND_MIN_INF, O>();
    target<W, I, S, AP_RND_INF, O>();
    target<W, I, S, AP_RND_CONV, O>();
}

template <int W, int I, bool S> void shape() {
    qmodes<W, I, S, AP_WRAP>();
    qmodes<W, I, S, AP_SAT>();
    qmodes<W, I, S, AP_SAT_ZERO>();
    qmodes<W, I, S, AP_SAT_SYM>();
}

int main() {
    shape<16, 6, true>();
    shape<8, 3, true>();
    shape<4, 2, true>();
    shape<1, 1, true>();
    shape<6, 0, true>();
    shape<5, -2, true>();
    shape<5, 8, true>();
    shape<32, 10, true>();
    shape<32, 31, false>();
    shape<18, 8, true>();
    shape<12, 4, false>();
    shape<3, 1, false>();
    shape<24, 10, true>();
    shape<10, 12, false>();

    arith<ap_fixed<16, 6>, ap_fixed<16, 6>>();
    arith<ap_fixed<16, 6>, ap_ufixed<12, 4>>();
    arith<ap_ufixed<12, 4>, ap_fixed<8, 3>>();
    arith<ap_ufixed<12, 4>, ap_ufixed<12, 4>>();
    arith<ap_fixed<5, -2>, ap_fixed<5, 8>>();
    arith<ap_fixed<32, 10>, ap_fixed<32, 10>>();
    arith<ap_fixed<18, 8>, ap_fixed<24, 10>>();
    arith<ap_fixed<7, 3>, ap_ufixed<6, 2>>();
    arith<ap_ufixed<32, 31>, ap_fixed<16, 6>>();
    arith<ap_fixed<1, 1>, ap_fixed<4, 2>>();
    return 0;
}
