use crate::AppState;
use crate::error::ApiError;
use crate::extract::Call;
use crate::wire::analytics::AnalyticsBody;
use crate::wire::common::Data;
use axum::extract::State;
use keyway_analytics::Family;
use keyway_store::AnalyticsRow;

pub async fn get_verifications(
    State(app): State<AppState>,
    call: Call<AnalyticsBody>,
) -> Result<Data<Vec<AnalyticsRow>>, ApiError> {
    Ok(Data(app.query_analytics(&call.ctx.principal, Family::Verifications, &call.body.query).await?))
}

pub async fn get_ratelimits(
    State(app): State<AppState>,
    call: Call<AnalyticsBody>,
) -> Result<Data<Vec<AnalyticsRow>>, ApiError> {
    Ok(Data(app.query_analytics(&call.ctx.principal, Family::Ratelimits, &call.body.query).await?))
}
