//! Embedded customer users end to end: signing keys through GraphQL, JWTs signed in the
//! test with those keys, `POST /embedded/authenticate`, and the same JWT on `/api`.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};

use crate::helpers::{Engine, TestServer, on_both_engines, payload_errors, top_error};

const CREATE_KEY: &str = "mutation { createOrganizationSigningKey(input: {}) { \
    result { privateKey organizationSigningKey { id privateKeyPreview imported } } \
    errors { field messages } } }";

const ME: &str =
    "{ authenticatedUser { id name email externalId role { name } customer { name externalId } } }";

/// Creates a key through the API as `token`; returns its id and private PEM.
async fn create_key(server: &TestServer, token: &str) -> (String, String) {
    let data = server.gql_ok(token, CREATE_KEY, json!({})).await;
    let result = &data["createOrganizationSigningKey"]["result"];
    (
        result["organizationSigningKey"]["id"]
            .as_str()
            .expect("key id")
            .to_owned(),
        result["privateKey"]
            .as_str()
            .expect("private key")
            .to_owned(),
    )
}

/// A key pair made in the test, as (public SPKI PEM, private PKCS#8 PEM).
fn local_pair() -> (String, String) {
    let mut rng = rsa::rand_core::OsRng;
    let private = RsaPrivateKey::new(&mut rng, 2048).expect("key");
    let public = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("public PEM");
    let private = private.to_pkcs8_pem(LineEnding::LF).expect("private PEM");
    (public, private.to_string())
}

fn sign_with(claims: &Value, private_pem: &str) -> String {
    let key = RsaPrivateKey::from_pkcs8_pem(private_pem).expect("private key");
    let der = key.to_pkcs1_der().expect("PKCS#1 DER");
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_der(der.as_bytes()),
    )
    .expect("signed")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Claims for `sub` in customer `acme-1` of `organization`, valid for ten minutes.
fn claims(organization: &str, sub: &str) -> Value {
    json!({
        "sub": sub,
        "organization": organization,
        "customer": "acme-1",
        "name": "Ada Lovelace",
        "iat": now() - 5,
        "exp": now() + 600,
    })
}

async fn organization_id(server: &TestServer, token: &str) -> String {
    server
        .gql_ok(token, "{ organization { id } }", json!({}))
        .await["organization"]["id"]
        .as_str()
        .expect("organization id")
        .to_owned()
}

/// `POST /embedded/authenticate` with `token`; the status and JSON body.
async fn authenticate(server: &TestServer, token: &str) -> (u16, Value) {
    let response = server
        .http
        .post(server.url("/embedded/authenticate"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn create_acme(server: &TestServer) -> String {
    let data = server
        .gql(
            "mutation { createCustomer(input: {name: \"Acme\", externalId: \"acme-1\"}) { customer { id } errors { field } } }",
            json!({}),
        )
        .await;
    data["createCustomer"]["customer"]["id"]
        .as_str()
        .expect("customer id")
        .to_owned()
}

async fn counts(server: &TestServer) -> (i64, i64) {
    let data = server
        .gql(
            "{ customers { totalCount } users { totalCount } }",
            json!({}),
        )
        .await;
    (
        data["customers"]["totalCount"].as_i64().expect("count"),
        data["users"]["totalCount"].as_i64().expect("count"),
    )
}

async fn owners_and_admins_manage_keys_and_only_public_halves_are_kept(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let (id, private) = create_key(&server, &server.owner_token).await;
    assert!(
        private.starts_with("-----BEGIN PRIVATE KEY-----"),
        "{private}"
    );
    let (public, _) = local_pair();
    let data = server
        .gql(
            "mutation($k: String!) { importOrganizationSigningKey(input: {publicKey: $k}) { organizationSigningKey { id imported privateKeyPreview } errors { field messages } } }",
            json!({ "k": public }),
        )
        .await;
    let imported = &data["importOrganizationSigningKey"]["organizationSigningKey"];
    assert_eq!(imported["imported"], true);
    assert_eq!(imported["privateKeyPreview"], Value::Null);
    let data = server
        .gql(
            "mutation { importOrganizationSigningKey(input: {publicKey: \"not a key\"}) { organizationSigningKey { id } errors { field messages code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        payload_errors(&data["importOrganizationSigningKey"]),
        [("publicKey".to_owned(), "INVALID".to_owned())]
    );

    let listed = server
        .gql(
            "{ organization { signingKeys { totalCount nodes { id publicKey privateKeyPreview issuedAt imported } } } }",
            json!({}),
        )
        .await;
    let keys = &listed["organization"]["signingKeys"];
    assert_eq!(keys["totalCount"], 2);
    let generated = &keys["nodes"][0];
    assert_eq!(generated["id"], id.as_str());
    let body: String = private
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    assert_eq!(
        generated["privateKeyPreview"].as_str(),
        Some(&body[body.len() - 8..])
    );
    let stored = generated["publicKey"].as_str().expect("public key");
    assert!(stored.contains("BEGIN PUBLIC KEY") && !stored.contains("PRIVATE"));

    // An Integrator may neither see nor touch keys.
    let (_, integrator) = server
        .create_organization_user("ivy@example.com", "Integrator")
        .await;
    let (status, body) = server.gql_as(&integrator, CREATE_KEY, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(top_error(&body).1, "FORBIDDEN", "{body}");
    let (_, body) = server
        .gql_as(
            &integrator,
            "{ organization { signingKeys { nodes { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(top_error(&body).1, "FORBIDDEN", "{body}");

    let data = server
        .gql(
            "mutation($id: ID) { deleteOrganizationSigningKey(input: {id: $id}) { organizationSigningKey { id } errors { field messages } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data["deleteOrganizationSigningKey"]["organizationSigningKey"]["id"],
        id.as_str()
    );
    let data = server
        .gql(
            "mutation($id: ID) { deleteOrganizationSigningKey(input: {id: $id}) { organizationSigningKey { id } errors { field messages code } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        payload_errors(&data["deleteOrganizationSigningKey"]),
        [("id".to_owned(), "NOT_FOUND".to_owned())]
    );
    server.stop().await;
}

async fn an_embedded_user_signs_in_and_the_same_jwt_works_on_the_api(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let (_, private) = create_key(&server, &server.owner_token).await;
    let organization = organization_id(&server, &server.owner_token).await;
    create_acme(&server).await;

    let token = sign_with(&claims(&organization, "user-42"), &private);
    let (status, body) = authenticate(&server, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "Marketplace Admin");
    let me = server.gql_ok(&token, ME, json!({})).await["authenticatedUser"].clone();
    assert_eq!(me["id"], body["user"]["id"]);
    assert_eq!(me["name"], "Ada Lovelace");
    assert_eq!(me["role"]["name"], "Marketplace Admin");
    assert_eq!(
        me["customer"],
        json!({"name": "Acme", "externalId": "acme-1"})
    );
    assert!(
        me["email"]
            .as_str()
            .unwrap_or_default()
            .ends_with("@embedded.invalid")
    );
    // The embedded user sees its own customer.
    let data = server
        .gql_ok(&token, "{ customers { nodes { name } } }", json!({}))
        .await;
    assert_eq!(data["customers"]["nodes"], json!([{"name": "Acme"}]));

    // A later token for the same subject renames the same user.
    let mut renamed = claims(&organization, "user-42");
    renamed["name"] = json!("Ada King");
    let renamed = sign_with(&renamed, &private);
    let again = server.gql_ok(&renamed, ME, json!({})).await["authenticatedUser"].clone();
    assert_eq!(again["id"], me["id"]);
    assert_eq!(again["name"], "Ada King");

    // role "user" gives Marketplace User; customer_name creates an unknown customer.
    let mut other = claims(&organization, "user-43");
    other["role"] = json!("user");
    other["customer"] = json!("globex-1");
    other["customer_name"] = json!("Globex");
    let other = sign_with(&other, &private);
    let (status, body) = authenticate(&server, &other).await;
    assert_eq!(status, 200, "{body}");
    let created = server.gql_ok(&other, ME, json!({})).await["authenticatedUser"].clone();
    assert_eq!(created["role"]["name"], "Marketplace User");
    assert_eq!(
        created["customer"],
        json!({"name": "Globex", "externalId": "globex-1"})
    );

    // The owner sees both embedded users in their customers.
    assert_eq!(counts(&server).await, (2, 3));
    server.stop().await;
}

async fn every_bad_token_is_401_and_creates_nothing(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let (_, private) = create_key(&server, &server.owner_token).await;
    let (deleted_id, deleted_private) = create_key(&server, &server.owner_token).await;
    let data = server
        .gql(
            "mutation($id: ID) { deleteOrganizationSigningKey(input: {id: $id}) { errors { field } } }",
            json!({ "id": deleted_id }),
        )
        .await;
    assert_eq!(data["deleteOrganizationSigningKey"]["errors"], json!([]));
    let organization = organization_id(&server, &server.owner_token).await;
    create_acme(&server).await;
    let other_owner = server
        .another_organization("Other Org", "owner@other.example")
        .await;
    let (_, foreign_private) = create_key(&server, &other_owner).await;
    let public = server
        .gql(
            "{ organization { signingKeys { nodes { publicKey } } } }",
            json!({}),
        )
        .await["organization"]["signingKeys"]["nodes"][0]["publicKey"]
        .as_str()
        .expect("public key")
        .to_owned();
    let before = counts(&server).await;

    let valid = claims(&organization, "user-42");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = valid.clone();
        change(&mut claims);
        claims
    };
    let expired = with(&|c| {
        c["iat"] = json!(now() - 7200);
        c["exp"] = json!(now() - 120);
    });
    let not_yet = with(&|c| c["nbf"] = json!(now() + 300));
    let no_customer = with(&|c| {
        c.as_object_mut().map(|o| o.remove("customer"));
    });
    let no_exp = with(&|c| {
        c.as_object_mut().map(|o| o.remove("exp"));
    });
    let unknown_customer = with(&|c| c["customer"] = json!("nobody-1"));
    let alg_none = {
        let signed = sign_with(&valid, &private);
        let payload = signed.split('.').nth(1).expect("payload").to_owned();
        // {"alg":"none","typ":"JWT"}
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
    };
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &valid,
        &EncodingKey::from_secret(public.as_bytes()),
    )
    .expect("HS256 token");
    let (_, unregistered) = local_pair();
    let cases = [
        ("expired", sign_with(&expired, &private)),
        ("not yet valid", sign_with(&not_yet, &private)),
        ("alg none", alg_none),
        ("HS256 with the public key as secret", hs256),
        (
            "another organization's key",
            sign_with(&valid, &foreign_private),
        ),
        ("a deleted key", sign_with(&valid, &deleted_private)),
        ("an unregistered key", sign_with(&valid, &unregistered)),
        ("missing customer claim", sign_with(&no_customer, &private)),
        ("missing exp claim", sign_with(&no_exp, &private)),
        (
            "unknown customer without customer_name",
            sign_with(&unknown_customer, &private),
        ),
    ];
    for (what, token) in cases {
        let (status, body) = authenticate(&server, &token).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{what}"
        );
        let (status, _) = server.gql_as(&token, ME, json!({})).await;
        assert_eq!(status, 401, "{what} on /api");
    }
    assert_eq!(counts(&server).await, before, "nothing was created");

    // The valid token still works, so the refusals above were about the tokens.
    let (status, body) = authenticate(&server, &sign_with(&valid, &private)).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

async fn a_deleted_key_ends_its_tokens_and_embedded_users_have_no_password(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let (key_id, private) = create_key(&server, &server.owner_token).await;
    let organization = organization_id(&server, &server.owner_token).await;
    create_acme(&server).await;
    let token = sign_with(&claims(&organization, "user-42"), &private);
    let email = server.gql_ok(&token, ME, json!({})).await["authenticatedUser"]["email"]
        .as_str()
        .expect("email")
        .to_owned();

    // The placeholder address cannot log in: there is no password to match.
    for password in ["", "any password at all"] {
        let (status, _, body) = server
            .post_json(
                "/auth/login",
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_credentials");
    }

    let data = server
        .gql(
            "mutation($id: ID) { deleteOrganizationSigningKey(input: {id: $id}) { errors { field } } }",
            json!({ "id": key_id }),
        )
        .await;
    assert_eq!(data["deleteOrganizationSigningKey"]["errors"], json!([]));
    let (status, _) = server.gql_as(&token, ME, json!({})).await;
    assert_eq!(status, 401, "the key is gone, so are its tokens");
    let (status, _) = authenticate(&server, &token).await;
    assert_eq!(status, 401);
    server.stop().await;
}

const UNBLOCK: &str = "mutation($c: ID!, $s: String!) { unblockEmbeddedUser(input: {customer: $c, subject: $s}) { customer { id } errors { field code } } }";

/// Deleting an embedded user blocks its subject: the same JWT gets 401 on `/api` and on
/// `/embedded/authenticate`, and no user is silently created again, until an Owner or Admin
/// unblocks it; the next sign-in then makes a new user. Other subjects are untouched.
async fn a_deleted_embedded_user_stays_out_until_unblocked(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let (_, private) = create_key(&server, &server.owner_token).await;
    let organization = organization_id(&server, &server.owner_token).await;
    let acme = create_acme(&server).await;
    let token = sign_with(&claims(&organization, "user-42"), &private);
    let neighbour = sign_with(&claims(&organization, "user-7"), &private);
    let first = server.gql_ok(&token, ME, json!({})).await["authenticatedUser"]["id"]
        .as_str()
        .expect("user id")
        .to_owned();
    server.gql_ok(&neighbour, ME, json!({})).await;

    let data = server
        .gql(
            "mutation($id: ID) { deleteUser(input: {id: $id}) { errors { field } } }",
            json!({ "id": first }),
        )
        .await;
    assert_eq!(data["deleteUser"]["errors"], json!([]), "{data}");
    let before = counts(&server).await;
    for _ in 0..2 {
        let (status, body) = server.gql_as(&token, ME, json!({})).await;
        assert_eq!(status, 401, "{body}");
        let (status, body) = authenticate(&server, &token).await;
        assert_eq!(status, 401, "{body}");
    }
    assert_eq!(counts(&server).await, before, "no user was re-created");
    server.gql_ok(&neighbour, ME, json!({})).await;

    // Only Owners and Admins unblock; the embedded user's own admin role cannot.
    let (_, guest) = server
        .create_organization_user("guest@example.com", "Guest")
        .await;
    for caller in [&guest, &neighbour] {
        let (status, body) = server
            .gql_as(caller, UNBLOCK, json!({ "c": acme, "s": "user-42" }))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(top_error(&body).1, "FORBIDDEN", "{body}");
        assert_eq!(body["data"]["unblockEmbeddedUser"], Value::Null);
    }
    let other = server
        .another_organization("Other Platform", "owner@other.example")
        .await;
    let (_, body) = server
        .gql_as(&other, UNBLOCK, json!({ "c": acme, "s": "user-42" }))
        .await;
    assert_eq!(
        payload_errors(&body["data"]["unblockEmbeddedUser"]),
        vec![("customer".to_owned(), "NOT_FOUND".to_owned())],
        "{body}"
    );
    let data = server
        .gql(UNBLOCK, json!({ "c": acme, "s": "user-7" }))
        .await;
    assert_eq!(
        payload_errors(&data["unblockEmbeddedUser"]),
        vec![("subject".to_owned(), "NOT_FOUND".to_owned())],
        "a subject that is not blocked"
    );
    let (status, _) = server.gql_as(&token, ME, json!({})).await;
    assert_eq!(status, 401, "still blocked after the refused attempts");

    let (_, admin) = server
        .create_organization_user("admin@example.com", "Admin")
        .await;
    let data = server
        .gql_ok(&admin, UNBLOCK, json!({ "c": acme, "s": "user-42" }))
        .await;
    assert_eq!(data["unblockEmbeddedUser"]["errors"], json!([]), "{data}");
    assert_eq!(data["unblockEmbeddedUser"]["customer"]["id"], json!(acme));
    let again = server.gql_ok(&token, ME, json!({})).await["authenticatedUser"]["id"]
        .as_str()
        .expect("user id")
        .to_owned();
    assert_ne!(again, first, "a new user");
    server.stop().await;
}

on_both_engines!(
    a_deleted_embedded_user_stays_out_until_unblocked,
    owners_and_admins_manage_keys_and_only_public_halves_are_kept,
    a_deleted_key_ends_its_tokens_and_embedded_users_have_no_password,
    an_embedded_user_signs_in_and_the_same_jwt_works_on_the_api,
    every_bad_token_is_401_and_creates_nothing,
);
