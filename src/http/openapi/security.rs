//! The `bearer` security scheme of the contract and the 401/403 answers of
//! every guarded route.

/// API keys (`Authorization: Bearer KEY`, docs/DEPLOYMENT.md): the
/// `bearer` scheme, required by every route but the open ones
/// ([`crate::http::auth::OPEN_ROUTES`]; `/metrics` may be open too with
/// `--metrics open`), each of which then documents 401 (no key, or not a
/// valid one: with `WWW-Authenticate: Bearer`) and 403 (the key's role may
/// not, or the request came from another origin). Added to every
/// operation here rather than on each handler, so a new route cannot
/// forget it.
pub struct BearerKeys;

/// The security scheme's name in the spec.
pub const BEARER: &str = "bearer";

impl utoipa::Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        use utoipa::openapi::{
            ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, ResponseBuilder, Type,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key made by `sheetpipe keys create` (roles reader, importer, admin); \
                         needed when the service runs with `--auth required`",
                    ))
                    .build(),
            ),
        );
        let error = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build()
        };
        let unauthorized = ResponseBuilder::new()
            .description("No key was sent, or it is not a valid key (with `--auth required`)")
            .header(
                "WWW-Authenticate",
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            )
            .content("application/json", error())
            .build();
        let forbidden = ResponseBuilder::new()
            .description(
                "The key's role may not do this, or a state-changing request came from another origin",
            )
            .content("application/json", error())
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if crate::http::auth::OPEN_ROUTES.contains(&path.as_str()) {
                continue;
            }
            let ops = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                let mut security = vec![SecurityRequirement::new::<_, _, &str>(BEARER, [])];
                if path == "/metrics" {
                    // `--metrics open` serves it without a key.
                    security.push(SecurityRequirement::default());
                }
                op.security = Some(security);
                let responses = &mut op.responses.responses;
                responses
                    .entry("401".into())
                    .or_insert_with(|| unauthorized.clone().into());
                responses
                    .entry("403".into())
                    .or_insert_with(|| forbidden.clone().into());
            }
        }
    }
}
