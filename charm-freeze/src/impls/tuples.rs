//! Tuples up to 16 elements, `Option` and `Result`.

use crate::{Freeze, Freezer};

macro_rules! tuple {
    ($n:expr; $($name:ident . $idx:tt),+) => {
        impl<$($name: Freeze),+> Freeze for ($($name,)+) {
            fn freeze(&self, f: &mut Freezer) {
                f.tuple($n, |t| { $( t.element(&self.$idx); )+ })
            }
            forward_ver!();
        }
    };
}

tuple!(1; A.0);
tuple!(2; A.0, B.1);
tuple!(3; A.0, B.1, C.2);
tuple!(4; A.0, B.1, C.2, D.3);
tuple!(5; A.0, B.1, C.2, D.3, E.4);
tuple!(6; A.0, B.1, C.2, D.3, E.4, F.5);
tuple!(7; A.0, B.1, C.2, D.3, E.4, F.5, G.6);
tuple!(8; A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7);
tuple!(9; A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8);
tuple!(10; A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9);
tuple!(11; A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9, K.10);
tuple!(12; A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9, K.10, L.11);
tuple!(13; A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9, K.10, L.11, M.12);
tuple!(14; A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9, K.10, L.11, M.12, N.13);
tuple!(15; A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9, K.10, L.11, M.12, N.13, O.14);
tuple!(16; A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9, K.10, L.11, M.12, N.13, O.14, P.15);

impl<T: Freeze> Freeze for Option<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.option(self.as_ref())
    }
    forward_ver!();
}

impl<T: Freeze, E: Freeze> Freeze for Result<T, E> {
    fn freeze(&self, f: &mut Freezer) {
        f.result(self.as_ref())
    }
    forward_ver!();
}
