//! Samples for the determination-entry load, prepared over HTTP before it: each registered,
//! received and started (state `initial_testing`) by the demo technician, one per client.

use reqwest::{Client, StatusCode};

use crate::Error;

async fn post(
    client: &Client,
    url: String,
    token: &str,
    body: serde_json::Value,
    expected: StatusCode,
) -> Result<serde_json::Value, Error> {
    let resp = client
        .post(&url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    if status != expected {
        return Err(format!("POST {url}: {status}: {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}

/// Registers, receives and starts `n` samples at `supplier` as `token`; returns their codes.
pub fn prepare(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    base: &str,
    token: &str,
    supplier: &str,
    n: usize,
) -> Result<Vec<String>, Error> {
    let tag = chrono::Utc::now().timestamp_millis();
    let sampled_at = (chrono::Utc::now() - chrono::Duration::hours(2))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .to_rfc3339();
    rt.block_on(async {
        let mut codes = Vec::with_capacity(n);
        for i in 0..n {
            let view = post(
                client,
                format!("{base}/api/v1/samples"),
                token,
                serde_json::json!({
                    "supplier_code": supplier, "samplers": ["张伟", "刘洋"],
                    "sampled_at": sampled_at, "test_seal_no": format!("T-ENTRY-{tag}-{i}"),
                    "retained_seal_no": format!("B-ENTRY-{tag}-{i}"),
                }),
                StatusCode::CREATED,
            )
            .await?;
            let code = view["sample_code"]
                .as_str()
                .ok_or("no sample_code")?
                .to_string();
            let mut version = view["version"].as_i64().ok_or("no version")?;
            for action in ["receive", "start"] {
                let v = post(
                    client,
                    format!("{base}/api/v1/samples/{code}/{action}"),
                    token,
                    serde_json::json!({ "version": version }),
                    StatusCode::OK,
                )
                .await?;
                version = v["version"].as_i64().ok_or("no version")?;
            }
            codes.push(code);
        }
        Ok(codes)
    })
}
