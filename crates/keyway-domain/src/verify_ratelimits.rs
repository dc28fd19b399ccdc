//! Which rate limits a verification applies (reference §6.6): the key's and its identity's
//! configured limits merged by name (the key's win), every auto-applied one, and the requested ones
//! (by name, or inline with their own limit and duration).

/// Whose counter a limit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Counted per key (key-level and inline limits).
    Key,
    /// Shared by every key of the identity.
    Identity,
}

/// A configured limit of a key or an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredLimit {
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
    pub owner: Owner,
}

/// A limit named in a verification request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedLimit {
    pub name: String,
    pub cost: Option<i64>,
    pub limit: Option<i64>,
    pub duration: Option<i64>,
}

/// One check to run: `id` is empty for inline limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCheck {
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
    pub owner: Owner,
    pub cost: i64,
}

/// A requested name that neither the key nor its identity configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLimit(pub String);

/// Merges configured limits by name, the key's winning over the identity's.
pub fn merge(key: Vec<ConfiguredLimit>, identity: Vec<ConfiguredLimit>) -> Vec<ConfiguredLimit> {
    let mut merged = key;
    for limit in identity {
        if !merged.iter().any(|k| k.name == limit.name) {
            merged.push(limit);
        }
    }
    merged
}

/// The checks of one verification, in order: auto-applied limits (cost 1), then the requested
/// ones; a later entry of the same name replaces an earlier one.
pub fn plan(merged: &[ConfiguredLimit], requested: &[RequestedLimit]) -> Result<Vec<PlannedCheck>, UnknownLimit> {
    let mut checks: Vec<PlannedCheck> = merged
        .iter()
        .filter(|c| c.auto_apply)
        .map(|c| PlannedCheck {
            id: c.id.clone(),
            name: c.name.clone(),
            limit: c.limit,
            duration: c.duration,
            auto_apply: true,
            owner: c.owner,
            cost: 1,
        })
        .collect();
    for r in requested {
        let cost = r.cost.unwrap_or(1);
        let check = match (r.limit, r.duration) {
            (Some(limit), Some(duration)) => PlannedCheck {
                id: String::new(),
                name: r.name.clone(),
                limit,
                duration,
                auto_apply: false,
                owner: Owner::Key,
                cost,
            },
            _ => {
                let c = merged.iter().find(|c| c.name == r.name).ok_or_else(|| UnknownLimit(r.name.clone()))?;
                PlannedCheck {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    limit: c.limit,
                    duration: c.duration,
                    auto_apply: c.auto_apply,
                    owner: c.owner,
                    cost,
                }
            }
        };
        match checks.iter_mut().find(|c| c.name == check.name) {
            Some(existing) => *existing = check,
            None => checks.push(check),
        }
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(name: &str, owner: Owner, auto_apply: bool) -> ConfiguredLimit {
        ConfiguredLimit {
            id: format!("rl_{name}_{owner:?}"),
            name: name.into(),
            limit: 10,
            duration: 1000,
            auto_apply,
            owner,
        }
    }

    fn requested(name: &str) -> RequestedLimit {
        RequestedLimit { name: name.into(), cost: None, limit: None, duration: None }
    }

    #[test]
    fn the_key_wins_a_name_clash() {
        let merged = merge(
            vec![configured("requests", Owner::Key, false)],
            vec![configured("requests", Owner::Identity, true), configured("tokens", Owner::Identity, false)],
        );
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].owner, Owner::Key);
        assert_eq!(merged[1].name, "tokens");
    }

    #[test]
    fn auto_applied_limits_always_run_and_requests_replace_by_name() {
        let merged = vec![configured("a", Owner::Key, true), configured("b", Owner::Identity, false)];
        let checks = plan(&merged, &[]).unwrap();
        assert_eq!(checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["a"]);
        let mut with_cost = requested("a");
        with_cost.cost = Some(5);
        let checks = plan(&merged, &[requested("b"), with_cost]).unwrap();
        assert_eq!(checks.len(), 2);
        assert_eq!((checks[0].name.as_str(), checks[0].cost), ("a", 5));
        assert_eq!((checks[1].name.as_str(), checks[1].owner), ("b", Owner::Identity));
    }

    #[test]
    fn inline_limits_need_both_limit_and_duration() {
        let inline = RequestedLimit { name: "burst".into(), cost: Some(2), limit: Some(3), duration: Some(60_000) };
        let checks = plan(&[], &[inline]).unwrap();
        assert_eq!(checks[0].id, "");
        assert_eq!((checks[0].limit, checks[0].owner, checks[0].cost), (3, Owner::Key, 2));
        let half = RequestedLimit { name: "burst".into(), cost: None, limit: Some(3), duration: None };
        assert_eq!(plan(&[], &[half]), Err(UnknownLimit("burst".into())));
    }
}
