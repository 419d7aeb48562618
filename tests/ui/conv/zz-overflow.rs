nn::network! { pub struct NetA { input: [1, 8, 8], Conv2d(8, kernel = 3), Flatten } }
nn::network! { pub struct NetB { input: [1, 8, 8], Conv2d(8, kernel = 3), Flatten, Dense(3) } }
nn::network! { pub struct NetC { input: [1, 8, 8], Conv2d(8, kernel = 3) } }
nn::network! { pub struct NetD { input: [1, 8, 8], Conv2d(8, kernel = 30), Flatten, Dense(3) } }
nn::network! { pub struct NetE { input: [16], Dense(3) } }
fn main() {}
