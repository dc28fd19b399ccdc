use super::page;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::Call;
use crate::wire::common::{Data, Empty, Paginated};
use crate::wire::permissions::{
    CreatePermissionBody, CreatePermissionData, CreateRoleBody, CreateRoleData, KeyPermissionsBody, KeyRolesBody,
    ListRbacBody, PermissionData, PermissionRefBody, RoleData, RoleRefBody, SetRolePermissionsBody,
};
use axum::extract::State;
use keyway_core::{CreatePermission, CreateRole, Page};
use keyway_store::LinkChange;

fn page_of<T, U: From<T>>(found: Page<T>) -> Paginated<U> {
    Paginated(Page { items: found.items.into_iter().map(U::from).collect(), cursor: found.cursor })
}

fn all_of<T, U: From<T>>(items: Vec<T>) -> Data<Vec<U>> {
    Data(items.into_iter().map(U::from).collect())
}

pub async fn create_permission(
    State(app): State<AppState>,
    call: Call<CreatePermissionBody>,
) -> Result<Data<CreatePermissionData>, ApiError> {
    let b = call.body;
    let request = CreatePermission { name: b.name, slug: b.slug, description: b.description };
    let permission_id = app.create_permission(&call.ctx, request).await?;
    Ok(Data(CreatePermissionData { permission_id }))
}

pub async fn get_permission(
    State(app): State<AppState>,
    call: Call<PermissionRefBody>,
) -> Result<Data<PermissionData>, ApiError> {
    Ok(Data(app.get_permission(&call.ctx, &call.body.permission).await?.into()))
}

pub async fn list_permissions(
    State(app): State<AppState>,
    call: Call<ListRbacBody>,
) -> Result<Paginated<PermissionData>, ApiError> {
    let b = call.body;
    Ok(page_of(app.list_permissions(&call.ctx, b.search, page(b.cursor, b.limit)).await?))
}

pub async fn delete_permission(
    State(app): State<AppState>,
    call: Call<PermissionRefBody>,
) -> Result<Data<Empty>, ApiError> {
    app.delete_permission(&call.ctx, &call.body.permission).await?;
    Ok(Data(Empty {}))
}

pub async fn create_role(
    State(app): State<AppState>,
    call: Call<CreateRoleBody>,
) -> Result<Data<CreateRoleData>, ApiError> {
    let b = call.body;
    let request =
        CreateRole { name: b.name, description: b.description, permissions: b.permissions.unwrap_or_default() };
    let role_id = app.create_role(&call.ctx, request).await?;
    Ok(Data(CreateRoleData { role_id }))
}

pub async fn get_role(State(app): State<AppState>, call: Call<RoleRefBody>) -> Result<Data<RoleData>, ApiError> {
    Ok(Data(app.get_role(&call.ctx, &call.body.role).await?.into()))
}

pub async fn list_roles(
    State(app): State<AppState>,
    call: Call<ListRbacBody>,
) -> Result<Paginated<RoleData>, ApiError> {
    let b = call.body;
    Ok(page_of(app.list_roles(&call.ctx, b.search, page(b.cursor, b.limit)).await?))
}

pub async fn delete_role(State(app): State<AppState>, call: Call<RoleRefBody>) -> Result<Data<Empty>, ApiError> {
    app.delete_role(&call.ctx, &call.body.role).await?;
    Ok(Data(Empty {}))
}

pub async fn set_role_permissions(
    State(app): State<AppState>,
    call: Call<SetRolePermissionsBody>,
) -> Result<Data<Vec<PermissionData>>, ApiError> {
    let role = call.body.role().to_string();
    Ok(all_of(app.set_role_permissions(&call.ctx, &role, call.body.permissions).await?))
}

async fn key_permissions<const MIN: usize>(
    app: AppState,
    call: Call<KeyPermissionsBody<MIN>>,
    change: LinkChange,
) -> Result<Data<Vec<PermissionData>>, ApiError> {
    let b = call.body;
    Ok(all_of(app.change_key_permissions(&call.ctx, &b.key_id, change, b.permissions).await?))
}

async fn key_roles<const MIN: usize>(
    app: AppState,
    call: Call<KeyRolesBody<MIN>>,
    change: LinkChange,
) -> Result<Data<Vec<RoleData>>, ApiError> {
    let b = call.body;
    Ok(all_of(app.change_key_roles(&call.ctx, &b.key_id, change, b.roles).await?))
}

pub async fn add_permissions(
    State(app): State<AppState>,
    call: Call<KeyPermissionsBody<1>>,
) -> Result<Data<Vec<PermissionData>>, ApiError> {
    key_permissions(app, call, LinkChange::Add).await
}

pub async fn remove_permissions(
    State(app): State<AppState>,
    call: Call<KeyPermissionsBody<1>>,
) -> Result<Data<Vec<PermissionData>>, ApiError> {
    key_permissions(app, call, LinkChange::Remove).await
}

pub async fn set_permissions(
    State(app): State<AppState>,
    call: Call<KeyPermissionsBody<0>>,
) -> Result<Data<Vec<PermissionData>>, ApiError> {
    key_permissions(app, call, LinkChange::Set).await
}

pub async fn add_roles(
    State(app): State<AppState>,
    call: Call<KeyRolesBody<1>>,
) -> Result<Data<Vec<RoleData>>, ApiError> {
    key_roles(app, call, LinkChange::Add).await
}

pub async fn remove_roles(
    State(app): State<AppState>,
    call: Call<KeyRolesBody<1>>,
) -> Result<Data<Vec<RoleData>>, ApiError> {
    key_roles(app, call, LinkChange::Remove).await
}

pub async fn set_roles(
    State(app): State<AppState>,
    call: Call<KeyRolesBody<0>>,
) -> Result<Data<Vec<RoleData>>, ApiError> {
    key_roles(app, call, LinkChange::Set).await
}
