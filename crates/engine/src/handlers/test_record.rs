//! `test.record`: writes one run-log line, after an optional pause and a planned
//! number of failures. Crash tests and the queue benchmark use it.

use std::time::Duration;

use super::{Failed, Outcome, Verdict};
use crate::jobs::TestRecord;

pub async fn run(job: &TestRecord, attempts: i32) -> Result<Outcome, Failed> {
    if let Some(ms) = job.sleep_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let fail_times = job.fail_times.unwrap_or(0);
    if i64::from(attempts) <= fail_times {
        return Err(Failed::retry(format!(
            "planned failure {attempts} of {fail_times}"
        )));
    }
    Ok(Outcome::new(
        job.record.clone(),
        Verdict::Done,
        format!("attempt {attempts}"),
    ))
}
