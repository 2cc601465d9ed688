//! The permission table of the specification, row for row, through the real API: each
//! operation by a customer (bob) and a customer admin (alice) of `acme` and by an operator of
//! the vendor (olivia), on what is their own, on another user's of the project, and on
//! something of another project (carol's `globex`).

use crate::both_backends;
use crate::helpers::{Db, TestApp};
use serde_json::json;

both_backends!(the_permission_table_holds_row_for_row);

use tollgate_store::policy::Operation as Op;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    /// The actor's own (token created for them), or the project itself.
    Own,
    /// A token of the project created for another user.
    OtherUsers,
    /// A token or service user of another project.
    OtherProject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Customer,
    Admin,
    Operator,
}

/// SPEC: `| operation | customer | customer admin |` and the operator's sentence, with the
/// status each cell answers. An operator owns nothing of a project ("own" does not apply to
/// them) and is refused everything inside one.
/// `None`: the cell does not apply (one cannot generate "another user's" token). A customer
/// is refused what no customer may do before any id is looked at, so that `403` says nothing
/// about another project either.
/// The statuses of one role's cells: on its own, on another user's, on another project's.
type Cells = [Option<u16>; 3];

#[rustfmt::skip]
const TABLE: &[(Op, Cells, Cells, Cells)] = &[
    //                           customer: own, other user's, other project's | admin: the same | operator
    (Op::GenerateUserToken,    [Some(201), None,      None],      [Some(201), None,      None],      [Some(403), None,      None]),
    (Op::GenerateServiceToken, [Some(403), None,      Some(403)], [Some(201), None,      Some(404)], [None,      Some(403), Some(403)]),
    (Op::ViewToken,            [Some(200), Some(404), Some(404)], [Some(200), Some(200), Some(404)], [None,      Some(403), Some(403)]),
    (Op::ResyncToken,          [Some(403), Some(404), Some(404)], [Some(200), Some(200), Some(404)], [None,      Some(403), Some(403)]),
    (Op::RegenerateSecret,     [Some(200), Some(404), Some(404)], [Some(200), Some(200), Some(404)], [None,      Some(403), Some(403)]),
    (Op::DeleteToken,          [Some(204), Some(404), Some(404)], [Some(204), Some(204), Some(404)], [None,      Some(403), Some(403)]),
    (Op::ManageServiceUsers,   [Some(403), None,      Some(403)], [Some(201), None,      Some(404)], [None,      Some(403), Some(403)]),
    (Op::ReadAuditLog,         [Some(403), None,      None],      [Some(200), None,      None],      [None,      Some(403), None]),
    (Op::ManageWebhooks,       [Some(403), None,      Some(403)], [Some(201), None,      Some(404)], [None,      Some(403), Some(403)]),
    (Op::ManageProjects,       [Some(403), None,      Some(403)], [Some(403), None,      Some(403)], [None,      Some(200), Some(200)]),
];

async fn the_permission_table_holds_row_for_row(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob, carol) = app.everyone().await;
    let olivia = app.operator("olivia");
    app.post(&carol, "/api/v1/service-users", json!({ "name": "globex-ci" }))
        .await
        .ok(201);
    let mut n = 0;
    for &(op, customer, admin, operator) in TABLE {
        for (who, row) in [
            (Who::Customer, customer),
            (Who::Admin, admin),
            (Who::Operator, operator),
        ] {
            for (on, expected) in [On::Own, On::OtherUsers, On::OtherProject].into_iter().zip(row) {
                let Some(expected) = expected else { continue };
                n += 1;
                let (actor, other) = match who {
                    Who::Customer => (&bob, &alice),
                    Who::Admin => (&alice, &bob),
                    Who::Operator => (&olivia, &bob),
                };
                // A fresh target for every cell: a delete must not decide the next cell.
                let token_of = |owner: &str| {
                    let name = format!("cell-{n}");
                    let owner = owner.to_owned();
                    let app = &app;
                    async move { app.create_token_id(&owner, &name).await }
                };
                let token = match on {
                    // An operator owns no token; their own cells that apply are about no token.
                    On::Own if who == Who::Operator => token_of(other).await,
                    On::Own => token_of(actor).await,
                    On::OtherUsers => token_of(other).await,
                    On::OtherProject => token_of(&carol).await,
                };
                let status = perform(&app, actor, &carol, op, on, &token, n).await;
                assert_eq!(status, expected, "{op:?} by a {who:?} on {on:?}");
            }
        }
    }
    assert_eq!(n, 62, "every cell of the table was tried");
    assert!(
        Op::ALL.iter().all(|op| TABLE.iter().any(|(row, ..)| row == op)),
        "every operation of the policy has its row"
    );
}

/// Does `op` as `actor` on `token` (or on a service user or the project) and returns the status.
async fn perform(app: &TestApp, actor: &str, carol: &str, op: Op, on: On, token: &str, n: usize) -> u16 {
    let service_user = |bearer: &str, name: &str| {
        let (bearer, name) = (bearer.to_owned(), name.to_owned());
        async move { app.service_user_id(&bearer, &name).await }
    };
    let answer = match op {
        Op::GenerateUserToken => {
            app.post(actor, "/api/v1/tokens", json!({ "name": format!("own-{n}") }))
                .await
        }
        Op::GenerateServiceToken => {
            let service_user_id = match on {
                On::OtherProject => service_user(carol, "globex-ci").await,
                _ => app.service_user_id(&app.login("alice").await, "ci-pipeline").await,
            };
            let body = json!({ "name": format!("svc-{n}"), "kind": "service", "service_user_id": service_user_id });
            app.post(actor, "/api/v1/tokens", body).await
        }
        Op::ViewToken => app.get(actor, &format!("/api/v1/tokens/{token}")).await,
        Op::ResyncToken => {
            app.post_empty(actor, &format!("/api/v1/tokens/{token}/products/sync"))
                .await
        }
        Op::RegenerateSecret => app.post_empty(actor, &format!("/api/v1/tokens/{token}/secret")).await,
        Op::DeleteToken => app.delete(actor, &format!("/api/v1/tokens/{token}")).await,
        Op::ManageServiceUsers => match on {
            On::OtherProject => {
                let theirs = service_user(carol, "globex-ci").await;
                app.delete(actor, &format!("/api/v1/service-users/{theirs}")).await
            }
            _ => {
                app.post(actor, "/api/v1/service-users", json!({ "name": format!("bot-{n}") }))
                    .await
            }
        },
        Op::ReadAuditLog => app.get(actor, "/api/v1/audit-events").await,
        // Register one in the project, or delete globex's.
        Op::ManageWebhooks => match on {
            On::OtherProject => {
                let body =
                    json!({ "url": format!("https://hooks.example.com/globex/{n}"), "events": ["token.created"] });
                let theirs = app.post(carol, "/api/v1/webhooks", body).await;
                let theirs = theirs.ok(201)["webhook"]["id"].as_str().unwrap().to_owned();
                app.delete(actor, &format!("/api/v1/webhooks/{theirs}")).await
            }
            _ => {
                let body = json!({ "url": format!("https://hooks.example.com/acme/{n}"), "events": ["token.created"] });
                app.post(actor, "/api/v1/webhooks", body).await
            }
        },
        // The project itself: put acme as it is (own or another user's), read globex.
        Op::ManageProjects => match on {
            On::OtherProject => app.get(actor, "/api/v1/projects/globex").await,
            _ => {
                let acme = app.get(&app.operator("olivia"), "/api/v1/projects/acme").await;
                let acme = acme.ok(200);
                let body = json!({ "name": acme["name"], "subscription": {
                    "end_date": acme["subscription"]["end_date"], "products": acme["subscription"]["products"] } });
                app.send(reqwest::Method::PUT, "/api/v1/projects/acme", Some(actor), Some(body))
                    .await
            }
        },
    };
    answer.status.as_u16()
}
