//! `IntoEvents`: how a test writes a list of events. A tuple mixes event types without
//! `.into()`; arrays, slices and vecs of the event enum work too.

/// A list of events convertible to the event enum `E`.
pub trait IntoEvents<E> {
    /// The events, in order.
    fn into_events(self) -> Vec<E>;
}

impl<E> IntoEvents<E> for Vec<E> {
    fn into_events(self) -> Vec<E> {
        self
    }
}

impl<E: Clone> IntoEvents<E> for &[E] {
    fn into_events(self) -> Vec<E> {
        self.to_vec()
    }
}

impl<E, const N: usize> IntoEvents<E> for [E; N] {
    fn into_events(self) -> Vec<E> {
        self.into()
    }
}

impl<E> IntoEvents<E> for () {
    fn into_events(self) -> Vec<E> {
        Vec::new()
    }
}

macro_rules! tuple_into_events {
    ($($t:ident)+) => {
        impl<E, $($t: Into<E>),+> IntoEvents<E> for ($($t,)+) {
            #[allow(non_snake_case)]
            fn into_events(self) -> Vec<E> {
                let ($($t,)+) = self;
                vec![$($t.into()),+]
            }
        }
    };
}

tuple_into_events!(T1);
tuple_into_events!(T1 T2);
tuple_into_events!(T1 T2 T3);
tuple_into_events!(T1 T2 T3 T4);
tuple_into_events!(T1 T2 T3 T4 T5);
tuple_into_events!(T1 T2 T3 T4 T5 T6);
tuple_into_events!(T1 T2 T3 T4 T5 T6 T7);
tuple_into_events!(T1 T2 T3 T4 T5 T6 T7 T8);
tuple_into_events!(T1 T2 T3 T4 T5 T6 T7 T8 T9);
tuple_into_events!(T1 T2 T3 T4 T5 T6 T7 T8 T9 T10);
tuple_into_events!(T1 T2 T3 T4 T5 T6 T7 T8 T9 T10 T11);
tuple_into_events!(T1 T2 T3 T4 T5 T6 T7 T8 T9 T10 T11 T12);

#[cfg(test)]
mod tests {
    use super::IntoEvents;

    #[test]
    fn tuples_convert_each_element() {
        let v: Vec<i64> = (1i32, 2u8, 3i64).into_events();
        assert_eq!(v, [1, 2, 3]);
        let empty: Vec<i64> = ().into_events();
        assert!(empty.is_empty());
        assert_eq!([4i64, 5].into_events(), [4, 5]);
        assert_eq!((&[6i64][..]).into_events(), [6]);
    }
}
