//! placeholder while the client lands
use std::process::ExitCode;
#[derive(Debug, clap::Args)]
pub struct Args {}
#[derive(Debug, clap::Args)]
pub struct ListArgs {}
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> { anyhow::bail!("not yet") }
pub fn list(_args: &ListArgs) -> anyhow::Result<ExitCode> { anyhow::bail!("not yet") }
