//! The HTTP load generator: N client tasks in a closed loop (each sends its next request when
//! the previous answer is read) over keep-alive connections (reqwest on tokio), for a fixed
//! time after a warm-up that is not counted; latencies in an HDR histogram (microseconds).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::{Client, Method, StatusCode};
use serde::Serialize;

use crate::Error;

/// What each client sends.
#[derive(Clone)]
pub enum Workload {
    /// GET of `paths` (client `c`'s `i`-th request takes a fixed pseudo-random path) with an
    /// optional bearer token; 200 expected.
    Get {
        /// Paths after the base URL.
        paths: Arc<Vec<String>>,
        /// Bearer token.
        token: Option<String>,
    },
    /// POST `/api/v1/samples/{key}/determinations`; client `c` works on `keys[c]` (a sample in
    /// initial testing), entering Vad (which the generated samples never have: the shipped limit
    /// sets need Mad, Aad and St,ad) with values 1.00 and 3.00 alternating: two, three and four
    /// values that far apart never agree, so every fourth entry ends the run with "discard and
    /// restart" and the next starts a new run. Every request is valid (201), and the samples
    /// stay usable for the next run.
    Determinations {
        /// One sample code per client.
        keys: Arc<Vec<String>>,
        /// Bearer token (a technician of the samples' lab).
        token: String,
    },
}

/// Figures of one load run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    /// Concurrent clients.
    pub clients: usize,
    /// Requests answered inside the measured window.
    pub requests: u64,
    /// Of those, answers with an unexpected status or transport errors.
    pub errors: u64,
    /// Measured seconds.
    pub seconds: f64,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Largest latency, ms.
    pub max_ms: f64,
}

async fn one_client(
    client: Client,
    base: String,
    work: Workload,
    c: usize,
    measure_from: Instant,
    end: Instant,
) -> (Histogram<u64>, u64, u64) {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let (mut n, mut errors) = (0u64, 0u64);
    let mut i: u64 = 0;
    // A fixed pseudo-random walk over the paths, different for each client (xorshift).
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (c as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
    loop {
        let started = Instant::now();
        if started >= end {
            break;
        }
        let (req, expected) = match &work {
            Workload::Get { paths, token } => {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let p = &paths[(state % paths.len() as u64) as usize];
                let mut r = client.request(Method::GET, format!("{base}{p}"));
                if let Some(t) = token {
                    r = r.bearer_auth(t);
                }
                (r, StatusCode::OK)
            }
            Workload::Determinations { keys, token } => {
                let analysis = "vad";
                let value = if i.is_multiple_of(2) { "1.00" } else { "3.00" };
                let r = client
                    .post(format!(
                        "{base}/api/v1/samples/{}/determinations",
                        keys[c % keys.len()]
                    ))
                    .bearer_auth(token)
                    .json(&serde_json::json!({"analysis": analysis, "value": value}));
                (r, StatusCode::CREATED)
            }
        };
        i += 1;
        let ok = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                resp.bytes().await.is_ok() && status == expected
            }
            Err(_) => false,
        };
        if started >= measure_from {
            let us = started.elapsed().as_micros().max(1) as u64;
            let _ = hist.record(us.min(60_000_000));
            n += 1;
            if !ok {
                errors += 1;
            }
        }
    }
    (hist, n, errors)
}

/// Runs `work` with `clients` concurrent clients: `warmup` seconds uncounted, then `duration`
/// seconds measured.
pub fn run(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    base: &str,
    work: &Workload,
    clients: usize,
    warmup: f64,
    duration: f64,
) -> Result<LoadResult, Error> {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let end = measure_from + Duration::from_secs_f64(duration);
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                tokio::spawn(one_client(
                    client.clone(),
                    base.to_string(),
                    work.clone(),
                    c,
                    measure_from,
                    end,
                ))
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    });
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut n, mut errors) = (0, 0);
    for r in results {
        let (h, k, e) = r?;
        hist.add(h)?;
        n += k;
        errors += e;
    }
    let seconds = (Instant::now() - measure_from).as_secs_f64();
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(LoadResult {
        clients,
        requests: n,
        errors,
        seconds,
        rps: n as f64 / seconds,
        p50_ms: ms(0.50),
        p99_ms: ms(0.99),
        max_ms: hist.max() as f64 / 1000.0,
    })
}

/// Median seconds of `repeat` sequential GETs of `paths` (all paths in turn, after one untimed
/// round), each answered 200.
pub fn time_gets(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    base: &str,
    paths: &[String],
    token: &str,
    repeat: usize,
) -> Result<Vec<f64>, Error> {
    rt.block_on(async {
        let mut times = Vec::new();
        for round in 0..=repeat {
            let t = Instant::now();
            for p in paths {
                let resp = client
                    .get(format!("{base}{p}"))
                    .bearer_auth(token)
                    .send()
                    .await?;
                let status = resp.status();
                let body = resp.bytes().await?;
                if status != StatusCode::OK {
                    return Err(format!(
                        "GET {p}: {status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(300)])
                    )
                    .into());
                }
            }
            if round > 0 {
                times.push(t.elapsed().as_secs_f64());
            }
        }
        Ok(times)
    })
}

/// Median of a non-empty list.
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}
