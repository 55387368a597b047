//! References, smart pointers and cells: transparent, cycles terminate.

use crate::{Freeze, FreezeError, Freezer};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::rc::Rc;
use std::sync::Arc;

macro_rules! transparent {
    ($(impl[$($g:tt)*] $ty:ty;)*) => {$(
        /// The same digest as the value it points to.
        impl<$($g)*> Freeze for $ty {
            #[inline]
            fn freeze(&self, f: &mut Freezer) {
                f.write(&**self)
            }
            forward_ver!();
        }
    )*};
}

transparent! {
    impl['a, T: Freeze + ?Sized] &'a T;
    impl['a, T: Freeze + ?Sized] &'a mut T;
    impl[T: Freeze + ?Sized] Box<T>;
    impl['a, B: Freeze + ToOwned + ?Sized] Cow<'a, B>;
}

/// The same digest as the value inside; a cycle back to an `Rc` that is
/// being frozen becomes a back-reference.
impl<T: Freeze + ?Sized> Freeze for Rc<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.shared(Rc::as_ptr(self), |f| f.write(&**self))
    }
    forward_ver!();
}

/// The same digest as the value inside; a cycle back to an `Arc` that is
/// being frozen becomes a back-reference.
impl<T: Freeze + ?Sized> Freeze for Arc<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.shared(Arc::as_ptr(self), |f| f.write(&**self))
    }
    forward_ver!();
}

/// The same digest as the value inside.
impl<T: Freeze> Freeze for Reverse<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.write(&self.0)
    }
    forward_ver!();
}

/// The same digest as the value inside.
impl<T: Freeze + Copy> Freeze for Cell<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.write(&self.get())
    }
    forward_ver!();
}

/// The same digest as the value inside; a mutably borrowed cell is a
/// [`FreezeError::Borrowed`].
impl<T: Freeze + ?Sized> Freeze for RefCell<T> {
    fn freeze(&self, f: &mut Freezer) {
        match self.try_borrow() {
            Ok(v) => f.write(&*v),
            Err(_) => f.fail(FreezeError::Borrowed {
                type_name: std::any::type_name::<Self>(),
            }),
        }
    }
    forward_ver!();
}
