//! `roster sync`: the directory-sync crate between two servers' clients.

use directory_sync::{apply, plan};

use crate::{Exit, REPORTED, SyncArgs, client_for, report};

/// Plans the sync from `--from` to `--to`, prints it, and applies it unless `--dry-run`.
pub(crate) async fn run(args: SyncArgs) -> Result<(), Exit> {
    let source = client_for(&args.from, &args.from_token, args.timeout)?;
    let target = client_for(&args.to, &args.to_token, args.timeout)?;
    let source_actor = source.actor().await.map_err(|e| report(&e))?;
    let target_actor = target.actor().await.map_err(|e| report(&e))?;
    let plan = plan(&source, &source_actor, &target, &target_actor)
        .await
        .map_err(|e| {
            eprintln!("roster: reading the {} directory failed:", e.side);
            report(&e.source)
        })?;
    for (what, why) in &plan.skipped {
        eprintln!("skipped {what}: {why}");
    }
    let unchanged = format!(
        "{} customers and {} users unchanged",
        plan.unchanged_customers, plan.unchanged_users
    );
    if args.dry_run {
        for step in &plan.steps {
            println!("would {step}");
        }
        println!("{} changes planned, {unchanged}", plan.steps.len());
        return Ok(());
    }
    let report = apply(&plan, &target, &target_actor).await;
    for step in &report.applied {
        println!("{step}");
    }
    for (step, why) in &report.failed {
        eprintln!("failed to {step}: {why}");
    }
    println!(
        "{} changes applied, {} failed, {unchanged}",
        report.applied.len(),
        report.failed.len()
    );
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Exit { code: REPORTED })
    }
}
