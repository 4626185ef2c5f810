use secure_api_runtime::prelude::*;

#[authenticated]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
