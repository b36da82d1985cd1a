//! Checks on a user's SCIM attributes: kept as sent beside the user, written with it,
//! left alone by updates that do not name them, dropped when an update drops them.

use domain::RoleKind;
use domain::scim_user::{ScimName, ScimProfile, ScimText, ScimValue};
use domain::{Email, User};

use crate::Stores;
use crate::support::{insert_user, organization, update_user, written};

fn text(s: &str) -> Option<ScimText> {
    Some(ScimText::parse("x", s).unwrap())
}

/// A profile with every kept attribute set, spelled as no rule would rewrite it.
fn full_profile() -> ScimProfile {
    ScimProfile {
        name: Some(ScimName {
            formatted: text(" Ms Ann  Lee"),
            given_name: text("Ann"),
            family_name: None,
        }),
        display_name: text("Annie \"A\" Lee"),
        emails: vec![
            ScimValue {
                value: text("Ann@Example.com").unwrap(),
                kind: text("work"),
                primary: Some(true),
                display: None,
            },
            ScimValue {
                value: text("ann@home.example").unwrap(),
                kind: None,
                primary: Some(false),
                display: text("home"),
            },
        ],
        phone_numbers: vec![ScimValue {
            value: text("+1 (555) 555-0123").unwrap(),
            kind: text("mobile"),
            primary: None,
            display: None,
        }],
    }
}

/// A user's SCIM attributes round-trip exactly; an update that does not name them keeps
/// them; one that drops them leaves none; a changed email reads back changed.
pub async fn scim_attributes_round_trip_and_survive_other_updates(stores: Stores) {
    let org = organization(&stores, "Scim Users").await;
    let customer = org.customer("Scim Customer");
    crate::support::insert_customer(&stores, &customer).await;
    let mut user = org.user(
        Some(customer.id),
        "ann@example.com",
        RoleKind::CustomerMember,
    );
    user.scim = Some(full_profile());
    insert_user(&stores, &user).await;
    let read = |user: &User| {
        let (organization, id) = (user.organization_id, user.id);
        let users = &stores.users;
        async move { users.user(organization, id).await.unwrap().unwrap() }
    };
    let stored = read(&user).await;
    assert_eq!(stored.scim, Some(full_profile()));
    assert_eq!(stored, user, "the user reads back as written");

    let renamed = User {
        dark_mode: true,
        updated_at: domain::now(),
        ..stored.clone()
    };
    assert_eq!(
        update_user(&stores, &stored, &renamed).await.unwrap(),
        written(stored.version)
    );
    let after = read(&user).await;
    assert_eq!(after.scim, Some(full_profile()), "other updates keep them");

    let mut trimmed = full_profile();
    trimmed.phone_numbers.clear();
    trimmed.name = None;
    let changed = User {
        email: Email::parse("ann.lee@example.com").unwrap(),
        scim: Some(trimmed.clone()),
        updated_at: domain::now(),
        ..after.clone()
    };
    assert_eq!(
        update_user(&stores, &after, &changed).await.unwrap(),
        written(after.version)
    );
    let after_change = read(&user).await;
    assert_eq!(after_change.scim, Some(trimmed));
    assert_eq!(after_change.email.as_str(), "ann.lee@example.com");

    let dropped = User {
        scim: None,
        updated_at: domain::now(),
        ..after_change.clone()
    };
    update_user(&stores, &after_change, &dropped).await.unwrap();
    assert_eq!(read(&user).await.scim, None);
}
