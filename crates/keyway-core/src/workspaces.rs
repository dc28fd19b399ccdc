//! Workspaces and the operator's first root key.

use crate::{CoreError, CoreResult, Keyway, now_ms};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::{GeneratedKey, Secret, generate_root_key, root_key_from_secret};
use keyway_domain::root_permissions::all_permissions;
use keyway_store::{Actor, AuditEvent, AuditTarget, RootKey, RootKeyUpdate, StoreError, Workspace};

/// A workspace created by the operator, with its administrator root key.
#[derive(Debug)]
pub struct NewWorkspace {
    pub workspace_id: String,
    pub root_key: Secret,
}

/// What start-up did about root keys.
#[derive(Debug)]
pub enum Bootstrap {
    /// `KEYWAY_ROOT_KEY` exists as an administrator key of the default workspace.
    Configured,
    /// Root keys existed already; nothing to do.
    Existing,
    /// No root key existed: this one was generated and must be shown to the operator once.
    Generated(Secret),
}

const OPERATOR: (&str, &str) = ("operator", "Keyway operator");

pub(crate) fn operator_event(
    workspace_id: &str,
    event: &str,
    description: String,
    targets: Vec<AuditTarget>,
) -> AuditEvent {
    AuditEvent::new(workspace_id, event, description, Actor::system(OPERATOR.0, OPERATOR.1), targets, now_ms(), "")
}

fn admin_root_key(workspace_id: &str, generated: &GeneratedKey) -> RootKey {
    RootKey {
        id: new_id(IdKind::Key),
        workspace_id: workspace_id.to_string(),
        hash: generated.hash.clone(),
        start: generated.start.clone(),
        end: generated.end.clone(),
        name: Some("admin".into()),
        permissions: all_permissions(workspace_id),
        enabled: true,
        expires: None,
        created_at: now_ms(),
        last_used_at: None,
    }
}

impl Keyway {
    /// `keyway workspace create`: a workspace and a root key with every permission in it.
    pub async fn create_workspace(&self, name: &str) -> CoreResult<NewWorkspace> {
        let workspace =
            Workspace { id: new_id(IdKind::Workspace), name: name.into(), enabled: true, created_at: now_ms() };
        let generated = generate_root_key();
        let root_key = admin_root_key(&workspace.id, &generated);
        let audit = [
            operator_event(
                &workspace.id,
                "workspace.create",
                format!("Created workspace {}", workspace.id),
                vec![AuditTarget::new("workspace", &workspace.id)],
            ),
            operator_event(
                &workspace.id,
                "rootKey.create",
                format!("Created root key {}", root_key.id),
                vec![AuditTarget::new("rootKey", &root_key.id)],
            ),
        ];
        self.store.create_workspace(&workspace, &root_key, &audit).await?;
        self.known_root_keys.insert(&root_key.hash);
        Ok(NewWorkspace { workspace_id: workspace.id, root_key: generated.secret })
    }

    /// Start-up: makes sure the default workspace exists and that the operator can get in. With
    /// `configured` (from `KEYWAY_ROOT_KEY`), that exact secret becomes an administrator key of the
    /// default workspace (idempotently); without it, a key is generated only if none exists.
    pub async fn bootstrap(&self, configured: Option<&str>) -> CoreResult<Bootstrap> {
        let candidate =
            Workspace { id: new_id(IdKind::Workspace), name: "default".into(), enabled: true, created_at: now_ms() };
        let workspace = self.store.ensure_default_workspace(&candidate).await?;
        let Some(secret) = configured else {
            if self.store.any_root_key().await? {
                return Ok(Bootstrap::Existing);
            }
            let generated = generate_root_key();
            self.insert_admin_key(&workspace.id, &generated).await?;
            return Ok(Bootstrap::Generated(generated.secret));
        };
        let generated = root_key_from_secret(secret);
        match self.store.find_root_key_by_hash(&generated.hash).await? {
            None => self.insert_admin_key(&workspace.id, &generated).await?,
            Some(existing) if existing.root_key.workspace_id == workspace.id => {
                let wanted = all_permissions(&workspace.id);
                let key = &existing.root_key;
                if key.permissions != wanted || !key.enabled || key.expires.is_some() {
                    let update = RootKeyUpdate { enabled: Some(true), permissions: Some(wanted), ..Default::default() };
                    let event = operator_event(
                        &workspace.id,
                        "rootKey.update",
                        format!("Restored root key {}", key.id),
                        vec![AuditTarget::new("rootKey", &key.id)],
                    );
                    self.store.update_root_key(&workspace.id, &key.id, &update, &[event]).await?;
                    self.root_keys.invalidate(&generated.hash);
                }
            }
            Some(_) => {
                return Err(CoreError::InvalidInput(
                    "KEYWAY_ROOT_KEY is already a root key of another workspace; choose another secret".into(),
                ));
            }
        }
        Ok(Bootstrap::Configured)
    }

    async fn insert_admin_key(&self, workspace_id: &str, generated: &GeneratedKey) -> CoreResult<()> {
        let key = admin_root_key(workspace_id, generated);
        let event = operator_event(
            workspace_id,
            "rootKey.create",
            format!("Created root key {}", key.id),
            vec![AuditTarget::new("rootKey", &key.id)],
        );
        match self.store.create_root_key(&key, &[event]).await {
            Ok(()) => {
                self.known_root_keys.insert(&key.hash);
                Ok(())
            }
            Err(StoreError::Conflict(_)) => Err(CoreError::InvalidInput(
                "KEYWAY_ROOT_KEY belongs to a deleted root key; choose another secret".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}
