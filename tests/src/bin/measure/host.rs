//! Facts about the machine and the build: CPU, memory, load, the CA bundle, binary and zip sizes
//! and a process's peak RSS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use rollout_bench::workspace_root;

/// The architectures `make bench` builds, with their target triples.
pub const ARCHES: [(&str, &str); 2] = [
    ("x86_64", "x86_64-unknown-linux-gnu"),
    ("arm64", "aarch64-unknown-linux-gnu"),
];

#[derive(Debug, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub kernel: String,
    pub memory_mib: u64,
    pub date: String,
    /// The commit the binaries were built from (`-dirty` with uncommitted changes).
    pub commit: String,
    /// 1-minute load average before and after: the machine may be shared.
    pub load_before: String,
    pub load_after: String,
}

#[derive(Debug, Serialize)]
pub struct Size {
    pub bootstrap_bytes: Option<u64>,
    pub zip_bytes: Option<u64>,
}

/// The system's CA bundle file (Debian's, then Amazon Linux's path).
pub fn system_ca_bundle() -> Option<&'static str> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .into_iter()
    .find(|path| Path::new(path).is_file())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `cargo lambda build --release` output: the stripped binary and the zip of `bootstrap`.
pub fn sizes(name: &str) -> BTreeMap<String, Size> {
    let target = target_dir();
    let len = |path: PathBuf| std::fs::metadata(path).ok().map(|m| m.len());
    ARCHES
        .iter()
        .map(|(arch, triple)| {
            (arch.to_string(), {
                let zip_bytes = len(target
                    .join("lambda")
                    .join(arch)
                    .join(name)
                    .join("bootstrap.zip"));
                // No zip means no build for this arch: an older binary would mislead.
                let bootstrap_bytes =
                    zip_bytes.and_then(|_| len(target.join(triple).join("release").join(name)));
                Size {
                    bootstrap_bytes,
                    zip_bytes,
                }
            })
        })
        .collect()
}

/// Peak resident set (`VmHWM`) of a live process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Minor page faults of a process so far (`minflt`, field 10 of `/proc/<pid>/stat`): what
/// loading, relocating and first touching a binary and its heap cost the kernel.
pub fn minor_faults(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(7)?.parse().ok()
}

pub fn machine(load_before: String) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib / 1024)
        .unwrap_or(0);
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Machine {
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        memory_mib,
        date,
        commit: commit(),
        load_before,
        load_after: load_average(),
    }
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(workspace_root())
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        None => "unknown".into(),
        Some(hash) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(changes) if changes.is_empty() => hash,
            _ => format!("{hash}-dirty"),
        },
    }
}
