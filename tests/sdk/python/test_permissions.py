"""RBAC through unkey-py: permissions, roles, their assignment to keys, and
permission queries in verifyKey (§3.1, §3.10, §5.2, §6.2 steps 8/9.2, §6.5).

Every expected value comes from the wire contract
(shared/reference/unkey-v2-api.md, sections in comments), so a failure here
means a user of unkey-py would see a difference.

Permissions and roles are workspace-wide, so every slug and role name carries a
prefix unique to its test.
"""

import uuid

import pytest
from unkey.py import errors

ERRORS = "https://unkey.com/docs/errors"


@pytest.fixture
def tag(run_id: str) -> str:
    """A random prefix for one test's slugs, role names and API name."""
    return f"py-{run_id}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def rbac_api_id(unkey, tag: str) -> str:
    """An API of the test's own, so its keys share nothing with other tests."""
    res = unkey.apis.create_api(name=f"sdk-py-rbac-{tag}")
    return res.data.api_id


def create_key(unkey, api_id, **kwargs):
    res = unkey.keys.create_key(api_id=api_id, **kwargs)
    assert res.meta.request_id.startswith("req_")
    assert res.data.key_id.startswith("key_")
    assert res.data.key
    return res.data.key_id, res.data.key


def verify(unkey, key, **kwargs):
    res = unkey.keys.verify_key(key=key, **kwargs)
    assert res.meta.request_id.startswith("req_")
    return res.data


def slugs(permissions):
    """The slugs of a Permission[] answer, checking each element's shape on the way."""
    for p in permissions:
        assert p.id.startswith("perm_")
        assert p.name
    return [p.slug for p in permissions]


def role_names(roles):
    for r in roles:
        assert r.id.startswith("role_")
    return sorted(r.name for r in roles)


def test_permission_lifecycle(unkey, tag):
    slug = f"{tag}.documents.read"
    created = unkey.permissions.create_permission(
        name=f"{tag} read documents", slug=slug, description="Read any document"
    )
    assert created.meta.request_id.startswith("req_")
    permission_id = created.data.permission_id
    assert permission_id.startswith("perm_")

    # §5.2: `permission` matches the id or the slug.
    for ref in (permission_id, slug):
        got = unkey.permissions.get_permission(permission=ref)
        assert got.meta.request_id.startswith("req_")
        assert got.data.id == permission_id
        assert got.data.name == f"{tag} read documents"
        assert got.data.slug == slug
        assert got.data.description == "Read any document"

    # §5.2: a duplicate slug is a 409.
    with pytest.raises(errors.ConflictErrorResponse) as exc:
        unkey.permissions.create_permission(name="another name", slug=slug)
    assert exc.value.status_code == 409
    assert exc.value.data.error.status == 409
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/permission_already_exists"
    assert exc.value.data.error.detail == f"A permission with slug '{slug}' already exists in this workspace"
    assert exc.value.data.meta.request_id.startswith("req_")

    # Two more under the same prefix, so listing by search spans pages.
    others = {}
    for suffix in ("documents.write", "documents.delete"):
        res = unkey.permissions.create_permission(name=f"{tag} {suffix}", slug=f"{tag}.{suffix}")
        others[res.data.permission_id] = f"{tag}.{suffix}"
    everyone = {permission_id: slug, **others}

    # §5.2 / §1.7: search is a substring match; pages are keyset-paginated on the id, ascending.
    page = unkey.permissions.list_permissions(limit=2, search=tag)
    sizes = []
    seen = []
    while page is not None:
        assert page.result.meta.request_id.startswith("req_")
        sizes.append(len(page.result.data))
        for p in page.result.data:
            seen.append(p.id)
            assert p.slug == everyone[p.id]
        if page.result.pagination.has_more:
            assert page.result.pagination.cursor
        else:
            assert page.result.pagination.cursor is None  # §1.3: omitted when hasMore is false
        page = page.next()
    assert sizes == [2, 1]
    assert seen == sorted(everyone)

    listed = unkey.permissions.list_permissions(search=slug).result
    assert listed.pagination.has_more is False
    [found] = listed.data
    assert (found.id, found.name, found.slug, found.description) == (
        permission_id,
        f"{tag} read documents",
        slug,
        "Read any document",
    )
    # §2 Permission: description is omitted when there is none.
    [write] = unkey.permissions.list_permissions(search=f"{tag}.documents.write").result.data
    assert write.description is None

    res = unkey.permissions.delete_permission(permission=permission_id)
    assert res.meta.request_id.startswith("req_")

    # §5.2: after the (hard) delete the permission is a 404 by id and by slug.
    for ref in (permission_id, slug):
        with pytest.raises(errors.NotFoundErrorResponse) as exc:
            unkey.permissions.get_permission(permission=ref)
        assert exc.value.status_code == 404
        assert exc.value.data.error.type == f"{ERRORS}/unkey/data/permission_not_found"
    with pytest.raises(errors.NotFoundErrorResponse):
        unkey.permissions.delete_permission(permission=permission_id)
    assert [p.id for p in unkey.permissions.list_permissions(search=tag).result.data] == sorted(others)

    # Deleting by slug works as well.
    unkey.permissions.delete_permission(permission=f"{tag}.documents.write")
    with pytest.raises(errors.NotFoundErrorResponse):
        unkey.permissions.get_permission(permission=f"{tag}.documents.write")

    # The slug is free again once its permission is gone.
    again = unkey.permissions.create_permission(name="back again", slug=slug)
    assert again.data.permission_id != permission_id


def test_role_lifecycle(unkey, tag):
    read, write, admin = f"{tag}.read", f"{tag}.write", f"{tag}.admin"
    name = f"{tag} editor"

    # §5.2: missing slugs are auto-created (name = slug, no description).
    created = unkey.permissions.create_role(name=name, description="Edits documents", permissions=[write, read])
    assert created.meta.request_id.startswith("req_")
    role_id = created.data.role_id
    assert role_id.startswith("role_")
    auto = unkey.permissions.get_permission(permission=read).data
    assert auto.slug == read
    assert auto.name == read
    assert auto.description is None

    # §5.2: `role` matches the id or the name; the role carries its permissions.
    for ref in (role_id, name):
        got = unkey.permissions.get_role(role=ref)
        assert got.meta.request_id.startswith("req_")
        assert got.data.id == role_id
        assert got.data.name == name
        assert got.data.description == "Edits documents"
        assert sorted(slugs(got.data.permissions)) == [read, write]

    # §5.2: a duplicate role name is a 409.
    with pytest.raises(errors.ConflictErrorResponse) as exc:
        unkey.permissions.create_role(name=name)
    assert exc.value.status_code == 409
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/role_already_exists"
    assert exc.value.data.error.detail == f"A role with name '{name}' already exists in this workspace"

    # A role without permissions omits `permissions` (§1.3: empty arrays are omitted).
    bare_id = unkey.permissions.create_role(name=f"{tag} bare").data.role_id
    bare = unkey.permissions.get_role(role=bare_id).data
    assert bare.permissions is None
    assert bare.description is None

    listed = unkey.permissions.list_roles(search=tag)
    assert listed.result.meta.request_id.startswith("req_")
    assert listed.result.pagination.has_more is False
    assert listed.result.pagination.cursor is None
    roles = {r.id: r for r in listed.result.data}
    assert sorted(roles) == sorted([role_id, bare_id])  # §1.7: ascending ids
    assert [r.id for r in listed.result.data] == sorted(roles)
    assert roles[role_id].name == name
    assert sorted(slugs(roles[role_id].permissions)) == [read, write]

    first = unkey.permissions.list_roles(search=tag, limit=1).result
    assert len(first.data) == 1
    assert first.pagination.has_more is True
    assert first.pagination.cursor

    # §5.2: setRolePermissions replaces the direct set and answers it in sorted-slug order;
    # `admin` does not exist yet and is auto-created. The wire field is `roleId` (the role id).
    res = unkey.permissions.set_role_permissions(request={"role_id": role_id, "permissions": [write, admin]})
    assert res.meta.request_id.startswith("req_")
    assert slugs(res.data) == sorted([admin, write])
    assert sorted(slugs(unkey.permissions.get_role(role=role_id).data.permissions)) == sorted([admin, write])
    assert unkey.permissions.get_permission(permission=admin).data.name == admin
    # The dropped permission still exists; only its link to the role is gone.
    assert unkey.permissions.get_permission(permission=read).data.slug == read

    # `[]` clears.
    res = unkey.permissions.set_role_permissions(request={"role_id": role_id, "permissions": []})
    assert res.data == []
    assert unkey.permissions.get_role(role=role_id).data.permissions is None

    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.permissions.set_role_permissions(request={"role_id": "role_doesnotexist", "permissions": [read]})
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/role_not_found"

    # deleteRole takes the id or the name.
    res = unkey.permissions.delete_role(role=role_id)
    assert res.meta.request_id.startswith("req_")
    unkey.permissions.delete_role(role=f"{tag} bare")
    for ref in (role_id, name, bare_id):
        with pytest.raises(errors.NotFoundErrorResponse) as exc:
            unkey.permissions.get_role(role=ref)
        assert exc.value.status_code == 404
        assert exc.value.data.error.type == f"{ERRORS}/unkey/data/role_not_found"
    assert unkey.permissions.list_roles(search=tag).result.data == []


def test_key_permissions_and_roles(unkey, tag, rbac_api_id):
    p_a, p_b, p_c, p_d = (f"{tag}.{x}" for x in "abcd")
    p_role, p_r2 = f"{tag}.via.reader", f"{tag}.via.auditor"
    reader, auditor = f"{tag} reader", f"{tag} auditor"
    unkey.permissions.create_role(name=reader, permissions=[p_role])
    unkey.permissions.create_role(name=auditor, permissions=[p_r2, p_a])

    # §3.1: roles must exist; the whole create is rolled back otherwise.
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.create_key(api_id=rbac_api_id, roles=[reader, f"{tag} nobody"], permissions=[f"{tag}.never"])
    assert exc.value.status_code == 404
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/role_not_found"
    assert exc.value.data.error.detail == f"Role '{tag} nobody' was not found."
    assert unkey.permissions.list_permissions(search=f"{tag}.never").result.data == []

    # §3.1: permission slugs are auto-created, roles are attached by name.
    key_id, key = create_key(unkey, rbac_api_id, name="rbac", permissions=[p_a, p_b], roles=[reader])
    assert unkey.permissions.get_permission(permission=p_b).data.name == p_b

    # §2 KeyResponseData: permissions = direct + via roles, de-duplicated; roles = names.
    got = unkey.keys.get_key(key_id=key_id).data
    assert sorted(got.permissions) == sorted([p_a, p_b, p_role])
    assert got.roles == [reader]

    def key_perms():
        return sorted(unkey.keys.get_key(key_id=key_id).data.permissions or [])

    # §3.10 addPermissions: answers the key's full direct set; already-held slugs are skipped.
    res = unkey.keys.add_permissions(key_id=key_id, permissions=[p_c, p_a])
    assert res.meta.request_id.startswith("req_")
    assert sorted(slugs(res.data)) == [p_a, p_b, p_c]
    assert key_perms() == sorted([p_a, p_b, p_c, p_role])

    # removePermissions: answers the direct permissions left.
    res = unkey.keys.remove_permissions(key_id=key_id, permissions=[p_b])
    assert res.meta.request_id.startswith("req_")
    assert sorted(slugs(res.data)) == [p_a, p_c]
    # A permission that exists but is not on the key is ignored; an unknown slug is a 404.
    assert sorted(slugs(unkey.keys.remove_permissions(key_id=key_id, permissions=[p_b]).data)) == [p_a, p_c]
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.remove_permissions(key_id=key_id, permissions=[f"{tag}.never.created"])
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/permission_not_found"

    # setPermissions: replaces the direct set (auto-creating `d`).
    res = unkey.keys.set_permissions(key_id=key_id, permissions=[p_d, p_a])
    assert res.meta.request_id.startswith("req_")
    assert sorted(slugs(res.data)) == [p_a, p_d]
    assert key_perms() == sorted([p_a, p_d, p_role])

    # addRoles: every role on the key after the call, each with its permissions.
    res = unkey.keys.add_roles(key_id=key_id, roles=[auditor, reader])
    assert res.meta.request_id.startswith("req_")
    assert role_names(res.data) == sorted([auditor, reader])
    by_name = {r.name: r for r in res.data}
    assert sorted(slugs(by_name[auditor].permissions)) == sorted([p_a, p_r2])
    assert slugs(by_name[reader].permissions) == [p_role]
    got = unkey.keys.get_key(key_id=key_id).data
    assert sorted(got.roles) == sorted([auditor, reader])
    # p_a is held directly and through `auditor`: getKey lists it once.
    assert sorted(got.permissions) == sorted([p_a, p_d, p_role, p_r2])

    # removeRoles: the roles left.
    res = unkey.keys.remove_roles(key_id=key_id, roles=[reader])
    assert res.meta.request_id.startswith("req_")
    assert role_names(res.data) == [auditor]
    assert key_perms() == sorted([p_a, p_d, p_r2])
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.remove_roles(key_id=key_id, roles=[f"{tag} nobody"])
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/role_not_found"

    # setRoles: the final set.
    res = unkey.keys.set_roles(key_id=key_id, roles=[reader])
    assert res.meta.request_id.startswith("req_")
    assert role_names(res.data) == [reader]
    assert slugs(res.data[0].permissions) == [p_role]
    got = unkey.keys.get_key(key_id=key_id).data
    assert got.roles == [reader]
    assert sorted(got.permissions) == sorted([p_a, p_d, p_role])

    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.add_roles(key_id=key_id, roles=[f"{tag} nobody"])
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/role_not_found"
    assert role_names(unkey.keys.set_roles(key_id=key_id, roles=[reader]).data) == [reader]

    # `[]` clears both; §1.3: getKey then omits the empty arrays.
    assert unkey.keys.set_permissions(key_id=key_id, permissions=[]).data == []
    assert unkey.keys.set_roles(key_id=key_id, roles=[]).data == []
    got = unkey.keys.get_key(key_id=key_id).data
    assert got.permissions is None
    assert got.roles is None

    # §3.10: the family answers 404 key_not_found for an unknown key.
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.add_permissions(key_id="key_doesnotexist", permissions=[p_a])
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/key_not_found"


def test_verify_with_permission_query(unkey, tag, rbac_api_id):
    a, b, r = f"{tag}.a", f"{tag}.b", f"{tag}.r"
    missing, x, y = f"{tag}.missing", f"{tag}.x", f"{tag}.y"
    role = f"{tag} role"
    unkey.permissions.create_role(name=role, permissions=[r])
    key_id, key = create_key(unkey, rbac_api_id, name="queried", permissions=[a, b], roles=[role])

    # §6.5: a leaf is true iff the key holds exactly that slug, directly or through a role.
    data = verify(unkey, key, permissions=f"{a} AND {b}")
    assert data.valid is True
    assert data.code == "VALID"
    assert data.key_id == key_id
    # §6.3: permissions (direct + via roles) and role names are returned.
    assert set(data.permissions) == {a, b, r}
    assert data.roles == [role]

    data = verify(unkey, key, permissions=f"{a} AND {missing}")
    assert data.valid is False
    assert data.code == "INSUFFICIENT_PERMISSIONS"
    assert data.key_id == key_id  # §6.3: a found key still carries its fields

    data = verify(unkey, key, permissions=f"({x} OR {a}) AND ({b} OR {y})")
    assert data.valid is True
    assert data.code == "VALID"

    assert verify(unkey, key, permissions=f"{a} AND {r}").code == "VALID"
    # AND binds tighter than OR: `x OR a AND missing` = `x OR (a AND missing)`.
    assert verify(unkey, key, permissions=f"{x} OR {a} AND {missing}").code == "INSUFFICIENT_PERMISSIONS"
    # The keywords are case-insensitive.
    assert verify(unkey, key, permissions=f"{x} or {a}").code == "VALID"
    # No query at all: nothing to check.
    assert verify(unkey, key).code == "VALID"

    # §6.2 step 8 / §6.5: a syntax error is an HTTP 400, not a verification outcome.
    for query in (f"{a} AND", f"({a} OR {b}", f"AND {a}", f"{a} @ {b}", "()"):
        with pytest.raises(errors.BadRequestErrorResponse) as exc:
            unkey.keys.verify_key(key=key, permissions=query)
        assert exc.value.status_code == 400, query
        err = exc.value.data.error
        assert err.type.endswith("permissions_query_syntax_error"), query
        assert err.type == f"{ERRORS}/user/bad_request/permissions_query_syntax_error"
        assert err.status == 400
        assert err.detail
        assert err.errors == []  # §1.3: a handler's 400 always carries `errors: []`

    # §3.10: the assignment endpoints invalidate the verification cache before answering,
    # so the very next verify reflects a removal.
    unkey.keys.remove_permissions(key_id=key_id, permissions=[b])
    data = verify(unkey, key, permissions=f"{a} AND {b}")
    assert data.valid is False
    assert data.code == "INSUFFICIENT_PERMISSIONS"
    assert set(data.permissions) == {a, r}
    assert verify(unkey, key, permissions=a).code == "VALID"

    unkey.keys.remove_roles(key_id=key_id, roles=[role])
    data = verify(unkey, key, permissions=r)
    assert data.code == "INSUFFICIENT_PERMISSIONS"
    assert data.roles is None

    unkey.keys.add_permissions(key_id=key_id, permissions=[b])
    assert verify(unkey, key, permissions=f"{a} AND {b}").code == "VALID"


def test_star_is_a_literal_character(unkey, tag, rbac_api_id):
    # §6.5 / §14.1 (and the README): `*` is not a wildcard.
    star, read = f"{tag}.documents.*", f"{tag}.documents.read"
    _, key = create_key(unkey, rbac_api_id, permissions=[star])
    assert verify(unkey, key, permissions=read).code == "INSUFFICIENT_PERMISSIONS"
    assert verify(unkey, key, permissions=star).code == "VALID"
