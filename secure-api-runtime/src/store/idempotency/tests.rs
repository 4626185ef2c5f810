use super::*;
use actix_web::http::Method;

fn scope(key: &str) -> Scope {
    format!("POST /a:sub:7:{key}")
}

fn fp(body: &[u8]) -> [u8; 32] {
    crate::idempotency::fingerprint(&Method::POST, "/a", body)
}

fn refused_with(result: Result<Local, Problem>, status: StatusCode) -> bool {
    result.is_err_and(|p| p.status() == status)
}

#[test]
fn the_first_use_runs_a_replay_answers_a_changed_request_is_refused() {
    let store = Memory::default();
    let print = fp(b"{}");
    assert!(matches!(
        store.claim("sub:7", scope("k"), print),
        Ok(Local::Run)
    ));
    assert!(refused_with(
        store.claim("sub:7", scope("k"), print),
        StatusCode::CONFLICT
    ));
    store.finish(
        &scope("k"),
        StatusCode::ACCEPTED,
        &HeaderMap::new(),
        &Bytes::from_static(b"{\"ok\":1}"),
    );
    let Ok(Local::Replay(response)) = store.claim("sub:7", scope("k"), print) else {
        panic!("a replay")
    };
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(response.headers().contains_key("idempotent-replayed"));
    let other = fp(b"{\"x\":1}");
    assert!(refused_with(
        store.claim("sub:7", scope("k"), other),
        StatusCode::UNPROCESSABLE_ENTITY
    ));
}

#[test]
fn server_errors_free_the_key() {
    let store = Memory::default();
    let print = fp(b"");
    assert!(matches!(
        store.claim("sub:7", scope("k"), print),
        Ok(Local::Run)
    ));
    store.finish(
        &scope("k"),
        StatusCode::INTERNAL_SERVER_ERROR,
        &HeaderMap::new(),
        &Bytes::new(),
    );
    assert!(matches!(
        store.claim("sub:7", scope("k"), print),
        Ok(Local::Run)
    ));
}

#[test]
fn the_number_of_keys_is_bounded() {
    let store = Memory::with_bounds(3, MAX_STORED_BYTES);
    for key in ["a", "b", "c"] {
        assert!(matches!(
            store.claim("sub:7", scope(key), [0; 32]),
            Ok(Local::Run)
        ));
    }
    assert!(refused_with(
        store.claim("sub:7", scope("d"), [0; 32]),
        StatusCode::SERVICE_UNAVAILABLE
    ));
    // A freed key makes room again.
    store.abandon(&scope("a"));
    assert!(matches!(
        store.claim("sub:7", scope("d"), [0; 32]),
        Ok(Local::Run)
    ));
}

#[test]
fn one_caller_filling_the_store_does_not_refuse_another() {
    let store = Memory::default();
    let mut refused = None;
    for n in 0..MAX_KEYS {
        let key = format!("POST /a:sub:mallory:{n}");
        if let Err(problem) = store.claim("sub:mallory", key, [0; 32]) {
            refused = Some(problem.status());
            break;
        }
    }
    // Mallory is stopped by her own budget, with 429...
    assert_eq!(refused, Some(StatusCode::TOO_MANY_REQUESTS));
    // ...and everyone else's keys still work.
    assert!(matches!(
        store.claim("sub:alice", "POST /a:sub:alice:1".to_owned(), [0; 32]),
        Ok(Local::Run)
    ));
}

#[test]
fn the_stored_bytes_are_bounded() {
    let store = Memory::with_bounds(MAX_KEYS, 1000);
    assert!(matches!(
        store.claim("sub:7", scope("a"), [0; 32]),
        Ok(Local::Run)
    ));
    store.finish(
        &scope("a"),
        StatusCode::OK,
        &HeaderMap::new(),
        &Bytes::from(vec![b'x'; 1000]),
    );
    assert!(refused_with(
        store.claim("sub:7", scope("b"), [0; 32]),
        StatusCode::SERVICE_UNAVAILABLE
    ));
    // The stored answer still replays, and freeing it makes room.
    assert!(matches!(
        store.claim("sub:7", scope("a"), [0; 32]),
        Ok(Local::Replay(_))
    ));
    store.abandon(&scope("a"));
    assert!(matches!(
        store.claim("sub:7", scope("b"), [0; 32]),
        Ok(Local::Run)
    ));
}
