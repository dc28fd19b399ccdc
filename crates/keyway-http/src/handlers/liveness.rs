use crate::wire::common::Data;
use serde::Serialize;

#[derive(Serialize)]
pub struct Liveness {
    message: &'static str,
}

pub async fn liveness() -> Data<Liveness> {
    Data(Liveness { message: "we're cooking" })
}
