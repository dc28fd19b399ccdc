//! Reading a row's columns without naming its database: [`Columns`] holds for the rows of any
//! sqlx database that decodes the types Keyway stores.

use keyway_store::{StoreError, StoreResult};
use sqlx::{ColumnIndex, Decode, Row, Type};

/// The column reads of a row, one per stored type (all nullable; [`Column`] insists where needed).
pub trait Columns {
    fn text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn i64(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    fn i32(&self, column: &str) -> Result<Option<i32>, sqlx::Error>;
    fn i16(&self, column: &str) -> Result<Option<i16>, sqlx::Error>;
    fn bool(&self, column: &str) -> Result<Option<bool>, sqlx::Error>;
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
}

impl<R> Columns for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i32>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i16>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<bool>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<Vec<u8>>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }
    fn i64(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(column)
    }
    fn i32(&self, column: &str) -> Result<Option<i32>, sqlx::Error> {
        self.try_get(column)
    }
    fn i16(&self, column: &str) -> Result<Option<i16>, sqlx::Error> {
        self.try_get(column)
    }
    fn bool(&self, column: &str) -> Result<Option<bool>, sqlx::Error> {
        self.try_get(column)
    }
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        self.try_get(column)
    }
}

/// A type one column decodes to; `Option<T>` for a nullable column.
pub trait Column: Sized {
    fn get(row: &(impl Columns + ?Sized), column: &str) -> StoreResult<Self>;
}

macro_rules! column {
    ($($t:ty => $read:ident;)*) => {$(
        impl Column for Option<$t> {
            fn get(row: &(impl Columns + ?Sized), column: &str) -> StoreResult<Self> {
                row.$read(column).map_err(|e| corrupt(column, e))
            }
        }
        impl Column for $t {
            fn get(row: &(impl Columns + ?Sized), column: &str) -> StoreResult<Self> {
                Option::<$t>::get(row, column)?.ok_or_else(|| corrupt(column, "NULL"))
            }
        }
    )*};
}

column! {
    String => text;
    i64 => i64;
    i32 => i32;
    i16 => i16;
    bool => bool;
    Vec<u8> => bytes;
}

fn corrupt(column: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {column}: {e}"))
}
