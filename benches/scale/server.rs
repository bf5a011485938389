//! The release `coallab serve` as a child process on a random port.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::args::Args;
use crate::store::Store;
use crate::Error;

/// A running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Starts `coallab serve` on `store` with rate limits off, `args.workers` HTTP workers and
    /// a pool of `args.pool_size` connections; waits until it listens. With `demo`, an empty
    /// database gets the demo county. The server's log goes to `WORK_DIR/serve-BACKEND.log`.
    pub fn start(args: &Args, store: &Store, demo: bool) -> Result<Server, Error> {
        std::fs::create_dir_all(&args.work_dir)?;
        let log = std::fs::File::create(
            args.work_dir
                .join(format!("serve-{}.log", store.backend.name())),
        )?;
        let mut cmd = Command::new(crate::coallab_bin());
        cmd.args(store.coallab_args())
            .args(["serve", "--bind", "127.0.0.1:0", "--workers"])
            .arg(args.workers.to_string())
            .arg("--pool-size")
            .arg(args.pool_size.to_string())
            .args([
                "--rate-writes-per-minute",
                "0",
                "--rate-login-per-minute",
                "0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        if !demo {
            cmd.arg("--no-demo");
        }
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let Some(line) = lines.next() else {
                let _ = child.wait();
                return Err(format!(
                    "coallab serve ended before listening; see {}/serve-{}.log",
                    args.work_dir.display(),
                    store.backend.name()
                )
                .into());
            };
            let line = line?;
            if let Some(rest) = line.strip_prefix("coallab listening on ") {
                break rest
                    .split_whitespace()
                    .next()
                    .ok_or("no address")?
                    .to_string();
            }
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Server { child, base })
    }

    /// Stops the server with SIGTERM (in-flight requests finish) and waits for it.
    pub fn stop(mut self) -> Result<(), Error> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child.wait()?;
        Ok(())
    }
}
