//! `bytes::Bytes` and `BytesMut`: byte strings, like `Vec<u8>`.

use crate::{Freeze, Freezer};

impl Freeze for bytes::Bytes {
    fn freeze(&self, f: &mut Freezer) {
        f.bytes(self)
    }
}

impl Freeze for bytes::BytesMut {
    fn freeze(&self, f: &mut Freezer) {
        f.bytes(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::hash;

    #[test]
    fn bytes_hash_like_vec_u8() {
        let v = vec![1u8, 2, 3];
        assert_eq!(hash(&bytes::Bytes::from(v.clone())), hash(&v));
        assert_eq!(hash(&bytes::BytesMut::from(&v[..])), hash(&v));
    }
}
