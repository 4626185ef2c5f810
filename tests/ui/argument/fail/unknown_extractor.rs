use secure_api_runtime::prelude::*;

#[get("/api/host")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn host(info: actix_web::dev::ConnectionInfo) -> String {
    info.host().to_owned()
}

fn main() {}
