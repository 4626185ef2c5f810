use secure_api_runtime::prelude::*;

#[get("/health")]
struct Health;

fn main() {}
