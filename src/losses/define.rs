//! The macros `table.rs` writes the typed losses with: a struct per loss (a unit struct for one
//! without parameters) with `Default`, [`super::TypedLoss`] and its fields for the catalogue
//! test; an enum per set of words a parameter takes.

/// `Name = "catalogue_name" { field: type = default, ... }`, one per loss.
macro_rules! typed_losses {
    ($( $ty:ident = $name:literal { $($field:ident : $fty:ty = $default:expr),* $(,)? } )*) => {
        $( typed_loss!($ty = $name { $($field : $fty = $default),* }); )*

        /// Every typed loss at its defaults, with its catalogue name (for the catalogue test).
        #[cfg(test)]
        pub(crate) fn every_default() -> Vec<Box<dyn super::TypedLoss>> {
            vec![$( Box::new(<$ty as Default>::default()) ),*]
        }
    };
}

macro_rules! typed_loss {
    ($ty:ident = $name:literal {}) => {
        #[doc = concat!("The catalogue's `", $name, "`, which takes no parameters \
            (`gpu-loss list ", $name, "` shows its tensors and reductions).")]
        ///
        /// ```
        #[doc = concat!("use gpu_loss::{losses::", stringify!($ty), ", TypedLoss};")]
        #[doc = concat!("assert_eq!(", stringify!($ty), ".name(), \"", $name, "\");")]
        /// ```
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $ty;

        impl super::sealed::Fields for $ty {
            fn fields(&self) -> Vec<super::sealed::Field> {
                Vec::new()
            }
        }

        impl super::TypedLoss for $ty {
            fn name(&self) -> &'static str {
                $name
            }
        }
    };
    ($ty:ident = $name:literal { $($field:ident : $fty:ty = $default:expr),+ }) => {
        #[doc = concat!("The catalogue's `", $name, "` with its parameters \
            (`gpu-loss list ", $name, "` shows its tensors, rules and reductions).")]
        ///
        /// Its defaults:
        /// ```
        #[doc = concat!("use gpu_loss::losses::*;")]
        #[doc = concat!("let loss = ", stringify!($ty), " {",
            $(" ", stringify!($field), ": ", stringify!($default), ",",)+ " };")]
        #[doc = concat!("assert_eq!(loss, ", stringify!($ty), "::default());")]
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $ty {
            $(
                #[doc = concat!("`", stringify!($field), "`, by default `",
                    stringify!($default), "`.")]
                pub $field: $fty,
            )+
        }

        impl Default for $ty {
            fn default() -> Self {
                $ty { $($field: $default),+ }
            }
        }

        impl super::sealed::Fields for $ty {
            fn fields(&self) -> Vec<super::sealed::Field> {
                vec![$(super::sealed::Field {
                    name: stringify!($field),
                    value: super::Param::value(&self.$field),
                    words: <$fty as super::Param>::words(),
                }),+]
            }
        }

        impl super::TypedLoss for $ty {
            fn name(&self) -> &'static str {
                $name
            }
        }
    };
}

/// `Name { Variant = "word", ... }`: the words one parameter takes, in the catalogue's order.
macro_rules! words {
    ($(#[$meta:meta])* $ty:ident { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $ty {
            $(
                #[doc = concat!("`", $word, "`")]
                $variant,
            )+
        }

        impl $ty {
            /// Every word, in the catalogue's order.
            ///
            /// ```
            #[doc = concat!("use gpu_loss::losses::", stringify!($ty), ";")]
            #[doc = concat!("assert_eq!(", stringify!($ty), "::WORDS.len(), ",
                stringify!($ty), "::ALL.len());")]
            /// ```
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            /// Every variant, in the catalogue's order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// Its word, as the by-name builder and the command line take it.
            ///
            /// ```
            #[doc = concat!("use gpu_loss::losses::", stringify!($ty), ";")]
            #[doc = concat!("assert_eq!(", stringify!($ty), "::ALL[0].word(), ",
                stringify!($ty), "::WORDS[0]);")]
            /// ```
            pub fn word(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }
        }

        impl super::Param for $ty {
            fn value(&self) -> Option<crate::params::ParamValue> {
                Some(crate::params::ParamValue::Word(self.word().to_string()))
            }
            fn words() -> Option<&'static [&'static str]> {
                Some($ty::WORDS)
            }
        }
    };
}
