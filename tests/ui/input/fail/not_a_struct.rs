use secure_api_runtime::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, Input)]
#[serde(deny_unknown_fields)]
enum Command {
    Start,
    Stop,
}

fn main() {}
