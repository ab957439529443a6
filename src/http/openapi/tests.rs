use super::*;

/// `(method, path)` of every route `super::app` declares, read from
/// the router's source: each `.route("PATH", get(..).post(..))`.
fn router_routes() -> Vec<(String, String)> {
    let src = include_str!("../mod.rs");
    let fn_start = src.find("pub fn app(").expect("the router");
    let body = &src[fn_start..];
    let body = &body[..body.find("\n}\n").expect("end of app()")];
    let mut routes = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let open = rest.find('"').expect("a path") + 1;
        let close = open + rest[open..].find('"').expect("end of path");
        let path = rest[open..close].to_string();
        // The methods: up to the route call's closing parenthesis.
        let mut depth = 1;
        let mut end = close;
        for (i, c) in rest[close..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = close + i;
                break;
            }
        }
        let methods = &rest[close..end];
        for m in ["get", "post", "put", "delete", "patch"] {
            let called = methods
                .match_indices(&format!("{m}("))
                .any(|(i, _)| i == 0 || !methods.as_bytes()[i - 1].is_ascii_alphanumeric());
            if called {
                routes.push((m.to_string(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn every_route_of_the_router_is_in_the_spec() {
    let spec = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let routes = router_routes();
    assert!(routes.len() >= 11, "{routes:?}");
    for (method, path) in &routes {
        assert!(
            spec["paths"][path][method].is_object(),
            "{} {path} is routed but not in the OpenAPI spec: add #[utoipa::path] to its \
             handler and list it in ApiDoc",
            method.to_uppercase()
        );
    }
    // And nothing is in the spec that is not routed.
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                routes.iter().any(|(m, p)| m == method && p == path),
                "{method} {path} is in the spec but not routed"
            );
        }
    }
}

#[test]
fn every_operation_documents_its_error_shape() {
    let spec = serde_json::to_value(ApiDoc::openapi()).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path}: no success answer"
            );
            for (code, r) in responses {
                let json = &r["content"]["application/json"]["schema"];
                if code.starts_with('4') || code.starts_with('5') {
                    assert!(
                        json.is_object(),
                        "{method} {path} {code}: an error answer without its JSON schema"
                    );
                }
            }
        }
    }
}

#[test]
fn every_route_but_the_open_ones_asks_for_a_bearer_key_and_says_401_and_403() {
    let spec = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let scheme = &spec["components"]["securitySchemes"][BEARER];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    let mut guarded = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        let open = super::super::auth::OPEN_ROUTES.contains(&path.as_str());
        for (method, op) in item.as_object().unwrap() {
            let security = &op["security"];
            let codes = &op["responses"];
            if open {
                assert!(security.is_null(), "{method} {path} is open: {security}");
                assert!(
                    codes["401"].is_null(),
                    "{method} {path} is open but documents 401"
                );
                continue;
            }
            guarded += 1;
            assert_eq!(
                security[0][BEARER],
                serde_json::json!([]),
                "{method} {path}"
            );
            for code in ["401", "403"] {
                assert_eq!(
                    codes[code]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {code}"
                );
            }
            assert!(codes["401"]["headers"]["WWW-Authenticate"].is_object());
        }
    }
    assert!(guarded >= 9, "{guarded}");
    // /metrics alone may also be reached without a key (`--metrics open`).
    assert_eq!(
        spec["paths"]["/metrics"]["get"]["security"][1],
        serde_json::json!({})
    );
    assert!(spec["paths"]["/health"]["get"]["security"].is_null());
}
