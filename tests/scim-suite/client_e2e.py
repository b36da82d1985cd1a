"""Roster's SCIM service as a SCIM client library sees it: scim2-client, with scim2-models'
typed resources and messages (User, Group, PatchOp, SearchRequest, ListResponse), against a
real server (see common.py for how it is started and named).

It discovers the service, then creates users, reads them, filters, pages, replaces, patches
with each operation (with and without a path), deactivates and reactivates, deletes, and
asserts every time that what it reads back is what it wrote; then lists, reads and changes
the members of the groups. The line of a passing run that starts with "KEPT " holds a JSON
object naming the user it leaves behind, which the Rust test then looks at through GraphQL.
"""

import json
from typing import Any

from scim2_client import SCIMClientException
from scim2_models import SCIMException
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    Email,
    Error,
    Group,
    GroupMember,
    ListResponse,
    Name,
    PatchOp,
    PatchOperation,
    PhoneNumber,
    Required,
    ResourceType,
    Schema,
    ScimProvider,
    SearchRequest,
    ServiceProviderConfig,
    User,
)

from common import GROUP_URN, USER_URN, Failures, Settings

# What a User resource carries besides what its client wrote.
SERVER_KEYS = {"id", "meta", "groups", "schemas"}


def written(user: User) -> dict[str, Any]:
    """The attributes a client writes, as JSON (unassigned ones left out)."""
    dumped = user.model_dump(exclude_none=True)
    return {key: value for key, value in dumped.items() if key not in SERVER_KEYS}


def person(local: str, given: str, family: str, email_type: str, phone: str | None) -> User:
    """A user as an identity provider sends it."""
    return User(
        user_name=f"{local}@acme.example",
        external_id=f"okta-{local}",
        name=Name(formatted=f"{given} {family}", given_name=given, family_name=family),
        display_name=f"{given} {family}",
        emails=[
            Email(value=f"{local}@acme.example", type=email_type, primary=True),
            Email(value=f"{local}.{family}@home.example".lower(), type="other"),
        ],
        phone_numbers=(
            [PhoneNumber(value=phone, type="mobile", primary=True)] if phone else None
        ),
        active=True,
    )


class ClientEndToEnd:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.check = Failures()
        self.client = SyncSCIMClient(
            settings.http(), provider=ScimProvider(models=[User, Group])
        )

    def error(self, result: object) -> Error | None:
        return result if isinstance(result, Error) else None

    def read(self, user_id: str) -> User:
        got = self.client.query(User, user_id)
        assert isinstance(got, User), got
        return got

    def read_back(self, user_id: str, expected: User, what: str) -> User:
        """GETs the user and compares what it holds with `expected`."""
        got = self.read(user_id)
        self.check.equal(written(got), written(expected), f"{what}: read back")
        return got

    def patch(self, user: User, *operations: PatchOperation) -> User:
        result = self.client.modify(
            User, user.id, PatchOp[User](operations=list(operations))
        )
        assert isinstance(result, User), result
        return result

    def list_users(self, **search: Any) -> ListResponse[User]:
        result = self.client.query(User, query_parameters=SearchRequest(**search))
        assert isinstance(result, ListResponse), result
        return result

    def names(self, listing: ListResponse[User]) -> list[str]:
        return [resource.user_name for resource in listing.resources or []]

    # Discovery -----------------------------------------------------------------------

    def discovery(self) -> None:
        self.client.discover()
        config = self.client.provider.config
        assert isinstance(config, ServiceProviderConfig)
        check = self.check
        check.equal(config.patch.supported, True, "ServiceProviderConfig: patch")
        check.equal(config.filter.supported, True, "ServiceProviderConfig: filter")
        check.equal(config.filter.max_results, 100, "ServiceProviderConfig: maxResults")
        check.equal(config.sort.supported, True, "ServiceProviderConfig: sort")
        check.equal(config.etag.supported, True, "ServiceProviderConfig: etag")
        check.equal(config.bulk.supported, False, "ServiceProviderConfig: bulk")
        check.equal(
            [scheme.type for scheme in config.authentication_schemes or []],
            ["oauthbearertoken"],
            "ServiceProviderConfig: authentication",
        )
        types = self.client.query(ResourceType)
        assert isinstance(types, ListResponse), types
        check.equal(
            sorted((t.name, t.endpoint, t.schema_) for t in types.resources or []),
            [("Group", "/Groups", GROUP_URN), ("User", "/Users", USER_URN)],
            "ResourceTypes",
        )
        schemas = self.client.query(Schema)
        assert isinstance(schemas, ListResponse), schemas
        by_id = {schema.id: schema for schema in schemas.resources or []}
        check.equal(sorted(by_id), [GROUP_URN, USER_URN], "Schemas")
        user = by_id.get(USER_URN)
        if user is not None:
            attributes = {a.name: a for a in user.attributes or []}
            check.equal(
                sorted(attributes),
                sorted(["userName", "name", "displayName", "emails", "phoneNumbers",
                        "externalId", "active", "groups"]),
                "Schemas: the User attributes Roster stores",
            )
            for required in ["userName", "active"]:
                if required in attributes:
                    check.equal(
                        attributes[required].required, Required.true, f"Schemas: {required} required"
                    )
        one = self.client.query(Schema, USER_URN)
        check.check(isinstance(one, Schema) and one.id == USER_URN, "Schemas/<User URN>", one)
        missing = self.client.query(Schema, "urn:x", raise_scim_errors=False)
        check.check(
            isinstance(missing, Error) and missing.status == 404, "Schemas/<unknown>: 404", missing
        )

    # Users ---------------------------------------------------------------------------

    def users(self) -> str:
        check = self.check
        ann = person("ann", "Ann", "Lee", "work", "+15555550123")
        created = self.client.create(ann)
        assert isinstance(created, User), created
        check.equal(written(created), written(ann), "create: the answer")
        check.equal(created.meta.resource_type, "User", "create: meta.resourceType")
        check.equal(created.meta.version, 'W/"1"', "create: meta.version")
        check.equal(
            created.meta.location, f"/scim/v2/Users/{created.id}", "create: meta.location"
        )
        check.equal(
            [g.display for g in created.groups or []], ["Member"], "create: the Member group"
        )
        self.read_back(created.id, ann, "create")

        twin = self.client.create(ann, raise_scim_errors=False)
        check.check(
            isinstance(twin, Error) and twin.status == 409 and twin.scim_type == "uniqueness",
            "create: a taken userName is 409 uniqueness",
            twin,
        )
        not_email = self.client.create(User(user_name="ann"), raise_scim_errors=False)
        check.check(
            isinstance(not_email, Error)
            and not_email.status == 400
            and not_email.scim_type == "invalidValue",
            "create: a userName that is no email is 400 invalidValue",
            not_email,
        )

        others = [
            person("bob", "Bob", "Stone", "home", None),
            person("cat", "Cat", "Leeds", "work", "+15555550124"),
            person("dan", "Dan", "Moss", "work", None),
            person("eve", "Eve", "Reed", "home", "+15555550125"),
        ]
        ids = {"ann": created.id}
        for other in others:
            made = self.client.create(other)
            assert isinstance(made, User), made
            check.equal(written(made), written(other), f"create {other.user_name}")
            ids[other.user_name.split("@")[0]] = made.id

        self.filters(ids)
        self.paging()
        ann_now = self.replace_and_patch(self.read(created.id))
        self.activation(ann_now)
        self.deletion(ids["bob"])
        return ann_now.id

    def filters(self, ids: dict[str, str]) -> None:
        check = self.check
        for expression, expected in [
            ('userName eq "bob@acme.example"', ["bob@acme.example"]),
            ('userName eq "BOB@ACME.EXAMPLE"', ["bob@acme.example"]),
            ('externalId eq "okta-cat"', ["cat@acme.example"]),
            ('emails[type eq "work"].value co "a"',
             ["ann@acme.example", "cat@acme.example", "dan@acme.example"]),
            ('emails[type eq "home" and value ew "@acme.example"]',
             ["bob@acme.example", "eve@acme.example"]),
            ('name.familyName co "lee"', ["ann@acme.example", "cat@acme.example"]),
            ('userName sw "d" or displayName ew "Reed"', ["dan@acme.example", "eve@acme.example"]),
            ('not (phoneNumbers pr)', ["bob@acme.example", "dan@acme.example"]),
            ('active eq true and name.givenName eq "Ann"', ["ann@acme.example"]),
            ('userName eq "nobody@acme.example"', []),
        ]:
            listing = self.list_users(filter=expression)
            check.equal(self.names(listing), expected, f"filter {expression}")
            check.equal(listing.total_results, len(expected), f"filter {expression}: totalResults")
        found = self.client.search(
            User, SearchRequest(filter='userName eq "dan@acme.example"')
        )
        check.check(
            isinstance(found, ListResponse)
            and [r.id for r in found.resources or []] == [ids["dan"]],
            "POST /Users/.search",
            found,
        )
        bad = self.client.query(
            User, query_parameters={"filter": 'userName eq'}, raise_scim_errors=False,
            check_request_payload=False,
        )
        check.check(
            isinstance(bad, Error) and bad.status == 400 and bad.scim_type == "invalidFilter",
            "a malformed filter is 400 invalidFilter",
            bad,
        )

    def paging(self) -> None:
        check = self.check
        everyone = sorted(f"{n}@acme.example" for n in ["ann", "bob", "cat", "dan", "eve"])
        seen: list[str] = []
        for start in [1, 3, 5]:
            page = self.list_users(start_index=start, count=2, sort_by="userName")
            check.equal(page.total_results, 5, f"page at {start}: totalResults")
            check.equal(page.start_index, start, f"page at {start}: startIndex")
            check.equal(page.items_per_page, len(page.resources or []), f"page at {start}: itemsPerPage")
            seen.extend(self.names(page))
        check.equal(seen, everyone, "pages of 2 in userName order")
        last = self.list_users(sort_by="userName", sort_order="descending", count=1)
        check.equal(self.names(last), ["eve@acme.example"], "sortOrder descending")
        beyond = self.list_users(start_index=6, count=2)
        check.equal((beyond.total_results, self.names(beyond)), (5, []), "a page past the end")
        only = self.list_users(
            filter='userName eq "cat@acme.example"', attributes=["userName"]
        )
        resource = (only.resources or [None])[0]
        check.check(
            resource is not None and resource.user_name == "cat@acme.example"
            and resource.emails is None and resource.name is None,
            "attributes=userName leaves the rest out",
            resource,
        )

    def replace_and_patch(self, ann: User) -> User:
        check = self.check
        # PUT: every writable attribute replaced; one left out is removed.
        replacement = ann.model_copy(deep=True)
        replacement.name = Name(given_name="Ann", family_name="Lee-Park")
        replacement.display_name = None
        replacement.emails = [Email(value="ann@acme.example", type="work", primary=True)]
        replacement.phone_numbers = None
        replacement.external_id = "okta-ann-2"
        replaced = self.client.replace(replacement)
        assert isinstance(replaced, User), replaced
        check.equal(written(replaced), written(replacement), "PUT: the answer")
        check.equal(replaced.meta.version, 'W/"2"', "PUT: a new version")
        ann = self.read_back(ann.id, replacement, "PUT")
        for key in ["displayName", "phoneNumbers"]:
            check.check(key not in ann.model_dump(exclude_none=True), f"PUT: {key} removed")

        # A write with the version read before the PUT: 412, nothing written (scim2-client
        # sends If-Match with the version a resource object carries).
        older = ann.model_copy(deep=True)
        older.meta.version = 'W/"1"'
        stale = self.client.replace(older, raise_scim_errors=False)
        check.check(
            isinstance(stale, Error) and stale.status == 412,
            "PUT with If-Match of an older version is 412",
            stale,
        )
        self.read_back(ann.id, replacement, "after the 412")

        expected = replacement.model_copy(deep=True)

        def step(what: str, *operations: PatchOperation) -> User:
            answer = self.patch(ann, *operations)
            check.equal(written(answer), written(expected), f"PATCH {what}: the answer")
            return self.read_back(ann.id, expected, f"PATCH {what}")

        # add, with a path: a new multi-valued attribute, then one more value.
        expected.phone_numbers = [PhoneNumber(value="+15555550199", type="work", primary=True)]
        step("add phoneNumbers", PatchOperation(
            op="add", path="phoneNumbers",
            value=[{"value": "+15555550199", "type": "work", "primary": True}]))
        expected.emails = expected.emails + [Email(value="ann@home.example", type="home")]
        step("add emails (appended)", PatchOperation(
            op="add", path="emails", value=[{"value": "ann@home.example", "type": "home"}]))
        # add, without a path: the value's attributes are added.
        expected.display_name = "Annie Lee-Park"
        expected.name = Name(given_name="Ann", family_name="Lee-Park", formatted="Annie")
        step("add without path", PatchOperation(
            op="add", value={"displayName": "Annie Lee-Park", "name": {"formatted": "Annie"}}))
        # replace, with a path, a value path and a sub-attribute.
        expected.name = Name(given_name="Annie", family_name="Lee-Park", formatted="Annie")
        step("replace name.givenName", PatchOperation(
            op="replace", path="name.givenName", value="Annie"))
        expected.emails = [Email(value="ann.lee@acme.example", type="work", primary=True),
                           Email(value="ann@home.example", type="home")]
        step('replace emails[type eq "work"].value', PatchOperation(
            op="replace", path='emails[type eq "work"].value', value="ann.lee@acme.example"))
        # replace, without a path (Okta's whole-object shape): the sub-attributes sent
        # replace theirs, the others stay (RFC 7644 §3.5.2.3).
        expected.name = Name(given_name="Ann", family_name="Park", formatted="Annie")
        expected.external_id = "okta-ann-3"
        step("replace without path", PatchOperation(
            op="replace", value={"name": {"givenName": "Ann", "familyName": "Park"},
                                 "externalId": "okta-ann-3"}))
        # remove: an attribute, a filtered value, a sub-attribute.
        expected.display_name = None
        step("remove displayName", PatchOperation(op="remove", path="displayName"))
        expected.emails = [Email(value="ann.lee@acme.example", type="work", primary=True)]
        step('remove emails[type eq "home"]', PatchOperation(
            op="remove", path='emails[type eq "home"]'))
        expected.name = Name(given_name="Ann", formatted="Annie")
        step("remove name.familyName", PatchOperation(op="remove", path="name.familyName"))
        # Several operations in one request, applied in order.
        expected.display_name = "Ann P."
        expected.phone_numbers = None
        step("several operations", PatchOperation(op="add", path="displayName", value="Ann"),
             PatchOperation(op="replace", path="displayName", value="Ann P."),
             PatchOperation(op="remove", path="phoneNumbers"))
        # Refusals: remove without a path; a read-only attribute.
        for what, operation, scim_type in [
            ("remove without path", {"op": "remove"}, "noTarget"),
            ("replace id", {"op": "replace", "path": "id", "value": "x"}, "mutability"),
            ("remove active", {"op": "remove", "path": "active"}, "mutability"),
        ]:
            refused = self.client.modify(
                User, ann.id,
                {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [operation]},
                check_request_payload=False, raise_scim_errors=False,
            )
            check.check(
                isinstance(refused, Error) and refused.status == 400
                and refused.scim_type == scim_type,
                f"PATCH {what} is 400 {scim_type}",
                refused,
            )
        return self.read_back(ann.id, expected, "after the refusals")

    def activation(self, ann: User) -> None:
        check = self.check
        off = self.patch(ann, PatchOperation(op="replace", path="active", value=False))
        check.equal(off.active, False, "deactivate: the answer")
        check.equal(self.read(ann.id).active, False, "deactivate: read back")
        check.equal(
            self.names(self.list_users(filter="active eq false")),
            [ann.user_name],
            "deactivate: listed with active eq false",
        )
        on = self.patch(ann, PatchOperation(op="replace", value={"active": True}))
        check.equal(on.active, True, "reactivate (path-less replace): the answer")
        check.equal(self.read(ann.id).active, True, "reactivate: read back")
        check.equal(self.list_users(filter="active eq false").total_results, 0,
                    "reactivate: no user inactive")

    def deletion(self, user_id: str) -> None:
        check = self.check
        check.equal(self.client.delete(User, user_id), None, "DELETE: 204")
        gone = self.client.query(User, user_id, raise_scim_errors=False)
        check.check(isinstance(gone, Error) and gone.status == 404, "deleted: GET is 404", gone)
        again = self.client.delete(User, user_id, raise_scim_errors=False)
        check.check(
            isinstance(again, Error) and again.status == 404, "deleted: DELETE is 404", again
        )
        check.equal(self.list_users(filter='userName eq "bob@acme.example"').total_results, 0,
                    "deleted: not listed")

    # Groups --------------------------------------------------------------------------

    def groups(self, user_id: str) -> None:
        """The customer's roles as groups: listed, read, and a user moved between them by
        PATCHing members (add, then remove with a filtered path); creating one is 403."""
        check = self.check
        listing = self.client.query(Group)
        assert isinstance(listing, ListResponse), listing
        by_name = {group.display_name: group for group in listing.resources or []}
        check.check({"Admin", "Member"} <= set(by_name), "Groups: Admin and Member listed", by_name)
        admin, member = by_name.get("Admin"), by_name.get("Member")
        if admin is None or member is None:
            return
        one = self.client.query(Group, admin.id)
        check.check(isinstance(one, Group) and one.display_name == "Admin", "Groups/<id>", one)
        filtered = self.client.query(
            Group, query_parameters=SearchRequest(filter='displayName eq "Admin"')
        )
        check.check(
            isinstance(filtered, ListResponse)
            and [g.id for g in filtered.resources or []] == [admin.id],
            'Groups filter displayName eq "Admin"',
            filtered,
        )

        def member_ids(group: Group) -> list[str]:
            got = self.client.query(Group, group.id)
            assert isinstance(got, Group), got
            return [m.value for m in got.members or []]

        def role() -> list[str]:
            return [g.display for g in self.read(user_id).groups or []]

        check.equal(role(), ["Member"], "Groups: the user starts as a Member")
        check.check(user_id in member_ids(member), "Groups: Member lists the user")
        self.client.modify(Group, admin.id, PatchOp[Group](operations=[PatchOperation(
            op="add", path="members", value=[GroupMember(value=user_id)])]))
        check.equal(role(), ["Admin"], "Groups: added to Admin, the user's group is Admin")
        check.check(user_id in member_ids(admin), "Groups: Admin lists the user")
        check.check(user_id not in member_ids(member), "Groups: Member no longer does")
        self.client.modify(Group, admin.id, PatchOp[Group](operations=[PatchOperation(
            op="remove", path=f'members[value eq "{user_id}"]')]))
        check.equal(role(), ["Member"], "Groups: removed from Admin, back to Member")
        check.check(user_id not in member_ids(admin), "Groups: Admin no longer lists the user")
        created = self.client.create(Group(display_name="Pilots"), raise_scim_errors=False)
        check.check(
            isinstance(created, Error) and created.status == 403,
            "Groups: creating one is 403 (roles are fixed)",
            created,
        )

    def run(self) -> None:
        try:
            self.discovery()
            kept = self.users()
            self.groups(kept)
        except (SCIMClientException, SCIMException, AssertionError) as exc:
            self.check.check(False, f"unexpected {type(exc).__name__}", f"{exc} {getattr(exc, 'source', '')}")
            self.check.finish("client_e2e")
        if not self.check.failed:
            user = self.read(kept)
            print("KEPT " + json.dumps({"kept": {"id": user.id, "userName": user.user_name,
                                       "displayName": user.display_name, "active": user.active}}))
        self.check.finish("client_e2e")


if __name__ == "__main__":
    ClientEndToEnd(Settings()).run()
