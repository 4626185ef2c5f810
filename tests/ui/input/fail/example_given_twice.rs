use secure_api_runtime::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, garde::Validate, Input)]
#[serde(deny_unknown_fields)]
struct UpdateMe {
    #[garde(length(min = 1, max = 64))]
    #[input(example = "Ada L.", example = "Ada")]
    display_name: String,
}

fn main() {}
