//! What the host has, in one round trip: one bash script reports the content hash, mode
//! and owner of every file vpai manages, the directories, the manifest of the last
//! deploy, the releases kept, the deploy lock, and the containers of the project (one
//! `docker ps` + one `docker container inspect`). The plan is computed from this
//! snapshot; a no-op `up` needs nothing else.

use crate::docker::{ContainerState, parse_inspect};
use std::collections::BTreeMap;
use vpai_host::{Host, HostError};
use vpai_model::Stack;

/// A file on the host, by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub mode: u32,
    pub owner: (u32, u32),
    pub size: u64,
    pub sha256: String,
}

/// How the Docker engine answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineSeen {
    Ok,
    Missing,
    Down(String),
}

/// The state of the deploy lock as the script found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LockSeen {
    /// Not asked (read-only snapshot) and nobody holds it.
    #[default]
    Free,
    /// Taken by this run.
    Acquired,
    /// Taken by this run, after a run that did not finish: what it left.
    AcquiredAfterStale(Vec<String>),
    /// Held by another run.
    Busy(Vec<String>),
}

/// The host's side of a deploy.
#[derive(Debug, Clone)]
pub struct HostState {
    /// Effective uid of the commands (0 unless running unprivileged on the local host).
    pub uid: u32,
    pub files: BTreeMap<String, RemoteFile>,
    pub dirs: BTreeMap<String, (u32, (u32, u32))>,
    /// The live `vpai-manifest.json` (the last deploy's file list).
    pub manifest: Option<Vec<u8>>,
    /// Release names, oldest first.
    pub releases: Vec<String>,
    /// Release -> the release that was current when it was installed.
    pub previous: BTreeMap<String, String>,
    /// Releases whose deploy failed and was rolled back.
    pub failed: Vec<String>,
    /// The release the live files come from.
    pub current: Option<String>,
    pub engine: EngineSeen,
    pub containers: Vec<ContainerState>,
    pub lock: LockSeen,
    /// Where the host keeps deploy locks (`/run/lock`).
    pub lock_dir: Option<String>,
    /// GID owning `/var/run/docker.sock`, when the socket is there.
    pub docker_socket_gid: Option<u32>,
}

/// Where the per-host deploy lock lives: outside the project root (a lock taken by a
/// no-op must not change a file the operator's tree), in /run/lock.
pub const LOCK_DIR_SCRIPT: &str =
    r#"lockdir=/run/lock; [ -d "$lockdir" ] && [ -w "$lockdir" ] || lockdir=/tmp"#;

/// `$1` root, `$2` mode (`read` or `lock`), `$3` project, `$4` who; then the desired
/// file paths, `--`, the desired dirs, `--`, the container names.
const STATE: &str = r#"set -uo pipefail
# Few processes: on a small VPS each fork costs milliseconds. Byte lengths need LC_ALL=C.
export LC_ALL=C TZ=UTC
root=$1 mode=$2 project=$3 by=$4; shift 4
LOCKDIR
lock=$lockdir/vpai-$project.lock
# The lock directory is world-writable: never open a lock file someone else planted.
if [ -L "$lock" ] || { [ -e "$lock" ] && { [ ! -f "$lock" ] || [ ! -O "$lock" ]; }; }; then
  echo "vpai: \`$lock\` is not a lock file of this user (a link, or someone else's): refusing to open it; remove it, then run vpai again" >&2
  exit 5
fi
paths=(); dirs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do paths+=("$1"); shift; done; shift || true
while [ $# -gt 0 ] && [ "$1" != -- ]; do dirs+=("$1"); shift; done; shift || true
names=("$@")
echo "vpai-state 1"
echo "lockdir $lockdir"
boot=unknown; read -r boot </proc/sys/kernel/random/boot_id 2>/dev/null || true
lockinfo() { local l; while IFS= read -r l; do echo "lockinfo $l"; done <"$lock"; }
if [ "$mode" = lock ]; then
  exec 9>>"$lock"
  if ! flock -n 9; then
    # The previous holder lost its controller and is waiting for that run's commands
    # to end: wait for it, it will not be long.
    held=""; IFS= read -r -d '' held <"$lock" || true
    if [[ $held == *state=draining* ]] && flock -w 300 9; then :; else
      echo "lock busy"; lockinfo; echo end; exit 75
    fi
  fi
  prev=""; IFS= read -r -d '' prev <"$lock" || true
  if [ -n "$prev" ]; then
    echo "lock stale"; lockinfo
    [[ $'\n'$prev == *$'\n'"boot=$boot"* ]] || echo "lockinfo rebooted=yes"
  else
    echo "lock acquired"
  fi
  printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  info="pid=$$"$'\n'"boot=$boot"$'\n'"since=$now"$'\n'"by=$by"
  printf 'state=running\n%s\n' "$info" >"$lock"
elif [ -e "$lock" ]; then
  exec 9<"$lock"
  if ! flock -n -s 9; then echo "lock busy"; lockinfo; fi
  exec 9<&-
fi
echo "uid $EUID"
# The socket's group, for services that talk to the engine (`group_add`).
[ -S /var/run/docker.sock ] && echo "docker_gid $(stat -c %g /var/run/docker.sock 2>/dev/null)"
files=(); ds=(); man=""
if cd "$root" 2>/dev/null; then
  # A managed path that goes through a link is reported missing: the install that
  # follows refuses it, naming the link.
  for p in "${paths[@]}"; do [ -f "$p" ] && ! vpai_linked . "$p" && files+=("$p"); done
  for d in "${dirs[@]}"; do [ -d "./$d" ] && ! vpai_linked . "$d" && ds+=("./$d"); done
  # One stat for files and directories, one sha256sum for the files.
  if [ $((${#files[@]} + ${#ds[@]})) -gt 0 ]; then
    mapfile -t st < <(stat -c '%04a %u %g %s' -- "${files[@]}" "${ds[@]}")
  fi
  if [ ${#files[@]} -gt 0 ]; then
    mapfile -t sums < <(sha256sum -- "${files[@]}")
    for i in "${!files[@]}"; do printf 'file %s %s %s\n' "${st[i]}" "${sums[i]:0:64}" "${files[i]}"; done
  fi
  n=${#files[@]}
  for i in "${!ds[@]}"; do
    d=${ds[i]#./}; s=${st[n + i]}
    printf 'dir %s %s\n' "${s% *}" "${d:-.}"
  done
  if [ -f vpai-manifest.json ]; then
    IFS= read -r -d '' man <vpai-manifest.json || true
    echo "manifest ${#man}"; printf '%s\n' "$man"
  fi
fi
rel=$root/releases
if [ -d "$rel" ]; then
  for r in "$rel"/[0-9]*; do
    [ -d "$r" ] || continue
    p=""; [ -f "$r/.vpai-previous" ] && read -r p <"$r/.vpai-previous"
    f=ok; [ -e "$r/.vpai-failed" ] && f=failed
    echo "release ${r##*/} ${p:--} $f"
  done
  # The pointer is moved last; if a run died just before, the live manifest says
  # which release the files came from.
  current=""
  if [ -n "$man" ]; then
    cur=$(readlink "$rel/current" 2>/dev/null || true)
    for r in "$cur" $(shopt -s nullglob; a=("$rel"/[0-9]*); for ((i=${#a[@]}-1; i>=0; i--)); do echo "${a[i]##*/}"; done); do
      [ -n "$r" ] && [ -f "$rel/$r/vpai-manifest.json" ] || continue
      m=""; IFS= read -r -d '' m <"$rel/$r/vpai-manifest.json" || true
      if [ "$m" = "$man" ]; then current=$r; break; fi
    done
  fi
  [ -n "$current" ] && echo "current $current"
fi
# The engine's containers of this project. The Docker CLI costs tens of milliseconds per
# call on a small VPS; its API over the socket (curl) answers the same objects in a few.
# The CLI is used whenever it could mean another engine (DOCKER_HOST, a context).
sock=/var/run/docker.sock cfg=""
[ -r "${HOME:-/nonexistent}/.docker/config.json" ] && IFS= read -r -d '' cfg <"$HOME/.docker/config.json"
if ! command -v docker >/dev/null 2>&1; then
  echo "docker missing"
elif [ -z "${DOCKER_HOST:-}${DOCKER_CONTEXT:-}" ] && [[ $cfg != *currentContext* ]] && [ -S "$sock" ] \
    && command -v curl >/dev/null 2>&1; then
  api=(curl -sS --max-time 30 --unix-socket "$sock")
  filter="%7B%22label%22%3A%5B%22io.vpai.project%3D$project%22%5D%7D"
  if ! list=$("${api[@]}" -f "http://docker/containers/json?all=1&filters=$filter" 2>&1); then
    echo "docker down ${list%%$'\n'*}"
  else
    urls=()
    for n in "${names[@]}"; do urls+=("http://docker/containers/$n/json"); done
    while [[ $list =~ \"Id\":\"([0-9a-f]{64})\" ]]; do
      urls+=("http://docker/containers/${BASH_REMATCH[1]}/json")
      list=${list#*"${BASH_REMATCH[0]}"}
    done
    out=""
    if [ ${#urls[@]} -gt 0 ]; then
      # One object per line; a name with no container answers a message, left out.
      objs=""
      while IFS= read -r line; do
        [[ $line == '{"Id":'* ]] && objs+="${objs:+,}$line"
      done < <("${api[@]}" -w '\n' "${urls[@]}" 2>/dev/null)
      out="[$objs]"
    fi
    echo "docker ${#out}"; printf '%s\n' "$out"
  fi
elif ! ids=$(docker ps -aq --no-trunc --filter "label=io.vpai.project=$project" 2>&1); then
  echo "docker down ${ids%%$'\n'*}"
else
  out=""
  if [ $((${#names[@]} + ${#ids})) -gt 0 ]; then
    out=$(docker container inspect "${names[@]}" $ids 2>/dev/null)
  fi
  echo "docker ${#out}"; printf '%s\n' "$out"
fi
echo end
if [ "$mode" = lock ]; then
  # Hold the lock until the controller says `done` or goes away.
  if IFS= read -r line && [ "$line" = done ]; then
    : >"$lock"
  else
    printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
    printf 'state=draining\n%s\ninterrupted=%s\n' "$info" "$now" >"$lock"
    # Commands of the lost run hold this shared lock while they run: wait for them.
    flock -x "$lock.active" true
    printf 'state=interrupted\n%s\ninterrupted=%s\n' "$info" "$now" >"$lock"
  fi
fi
"#;

/// The script with its shared preamble.
pub(crate) fn state_script() -> String {
    format!(
        "{}{}",
        vpai_host::nofollow_sh!(),
        STATE.replace("LOCKDIR", LOCK_DIR_SCRIPT)
    )
}

/// The arguments of the state script for this stack.
pub(crate) fn state_args(
    stack: &Stack,
    mode: &str,
    by: &str,
    paths: &[&str],
    dirs: &[&str],
) -> Vec<String> {
    let mut args = vec![
        "bash".to_string(),
        "-c".to_string(),
        state_script(),
        "vpai-state".to_string(),
        stack.root.display().to_string(),
        mode.to_string(),
        stack.project.clone(),
        by.to_string(),
    ];
    args.extend(paths.iter().map(|s| s.to_string()));
    args.push("--".into());
    args.extend(dirs.iter().map(|s| s.to_string()));
    args.push("--".into());
    args.extend(stack.services.iter().map(|s| s.container_name.clone()));
    args
}

/// Read-only snapshot in one command.
pub fn read(
    host: &dyn Host,
    stack: &Stack,
    paths: &[&str],
    dirs: &[&str],
) -> Result<HostState, HostError> {
    let args = state_args(stack, "read", "", paths, dirs);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = host.run(&argv, None)?;
    parse(&out.stdout).map_err(|message| HostError::Io {
        path: format!("{}: host state", host.name()),
        source: std::io::Error::other(format!("{message}\n{}", out.stderr_text().trim())),
    })
}

/// Parse what the state script printed (until `end`).
pub fn parse(out: &[u8]) -> Result<HostState, String> {
    let mut state = HostState {
        uid: 0,
        files: BTreeMap::new(),
        dirs: BTreeMap::new(),
        manifest: None,
        releases: Vec::new(),
        previous: BTreeMap::new(),
        failed: Vec::new(),
        current: None,
        engine: EngineSeen::Missing,
        containers: Vec::new(),
        lock: LockSeen::Free,
        lock_dir: None,
        docker_socket_gid: None,
    };
    let mut pos = 0;
    let mut lock_word = String::new();
    let mut lock_info = Vec::new();
    let mut header = false;
    let mut ended = false;
    while pos < out.len() {
        let end = out[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| pos + i)
            .unwrap_or(out.len());
        let line = String::from_utf8_lossy(&out[pos..end]).to_string();
        pos = end + 1;
        let (word, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match word {
            "vpai-state" => header = true,
            "lock" => lock_word = rest.to_string(),
            "lockdir" => state.lock_dir = Some(rest.to_string()),
            "lockinfo" => lock_info.push(rest.to_string()),
            "uid" => state.uid = rest.parse().unwrap_or(0),
            "docker_gid" => state.docker_socket_gid = rest.trim().parse().ok(),
            "file" => {
                let mut it = rest.splitn(6, ' ');
                let mode = it.next().and_then(|m| u32::from_str_radix(m, 8).ok());
                let uid = it.next().and_then(|v| v.parse().ok());
                let gid = it.next().and_then(|v| v.parse().ok());
                let size = it.next().and_then(|v| v.parse().ok());
                let sha = it.next().map(str::to_string);
                let path = it.next().map(str::to_string);
                if let (Some(mode), Some(uid), Some(gid), Some(size), Some(sha256), Some(path)) =
                    (mode, uid, gid, size, sha, path)
                {
                    state.files.insert(
                        path,
                        RemoteFile {
                            mode,
                            owner: (uid, gid),
                            size,
                            sha256,
                        },
                    );
                }
            }
            "dir" => {
                let mut it = rest.splitn(4, ' ');
                let mode = it.next().and_then(|m| u32::from_str_radix(m, 8).ok());
                let uid = it.next().and_then(|v| v.parse().ok());
                let gid = it.next().and_then(|v| v.parse().ok());
                if let (Some(m), Some(u), Some(g), Some(p)) = (mode, uid, gid, it.next()) {
                    let p = if p == "." { "" } else { p };
                    state.dirs.insert(p.to_string(), (m, (u, g)));
                }
            }
            "manifest" | "docker" if rest.parse::<usize>().is_ok() => {
                let n: usize = rest.parse().expect("checked");
                let body = out.get(pos..pos + n).ok_or("truncated block")?;
                pos += n + 1;
                if word == "manifest" {
                    state.manifest = Some(body.to_vec());
                } else {
                    state.engine = EngineSeen::Ok;
                    state.containers = parse_inspect(body);
                }
            }
            "docker" => {
                state.engine = match rest.split_once(' ') {
                    Some(("down", why)) => EngineSeen::Down(why.to_string()),
                    _ if rest == "missing" => EngineSeen::Missing,
                    _ => EngineSeen::Down(rest.to_string()),
                }
            }
            "release" => {
                let mut it = rest.split_whitespace();
                let name = it.next().unwrap_or_default().to_string();
                match it.next() {
                    Some(p) if p != "-" => {
                        state.previous.insert(name.clone(), p.to_string());
                    }
                    _ => {}
                }
                if it.next() == Some("failed") {
                    state.failed.push(name.clone());
                }
                state.releases.push(name);
            }
            "current" => state.current = Some(rest.to_string()),
            "end" => {
                ended = true;
                break;
            }
            _ => {}
        }
    }
    if !header {
        return Err("the host did not run the state script (is bash installed?)".into());
    }
    state.lock = match lock_word.as_str() {
        "busy" => LockSeen::Busy(lock_info),
        "acquired" => LockSeen::Acquired,
        "stale" => LockSeen::AcquiredAfterStale(lock_info),
        _ => LockSeen::Free,
    };
    if !ended {
        return Err("the host state was cut short".into());
    }
    state.releases.sort();
    // Several containers can match (name and project label): keep each once.
    let mut seen = std::collections::BTreeSet::new();
    state.containers.retain(|c| seen.insert(c.id.clone()));
    Ok(state)
}

/// The file list of a manifest (`vpai-manifest.json`): path -> sha256.
pub fn manifest_files(manifest: &[u8]) -> BTreeMap<String, String> {
    let value: serde_json::Value = serde_json::from_slice(manifest).unwrap_or_default();
    value["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .filter_map(|f| {
                    Some((
                        f["path"].as_str()?.to_string(),
                        f["sha256"].as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Service -> inputs hash, from a manifest.
pub fn manifest_services(manifest: &[u8]) -> BTreeMap<String, String> {
    let value: serde_json::Value = serde_json::from_slice(manifest).unwrap_or_default();
    value["services"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads several files in one round trip: for each, `<size>\n<bytes>\n`, or `-1\n`.
const READ_FILES: &str = concat!(
    vpai_host::nofollow_sh!(),
    r#"root=$1; shift
for p in "$@"; do
  if [ -f "$root/$p" ] && ! vpai_linked "$root" "$p"; then echo "$(wc -c <"$root/$p")"; cat -- "$root/$p"; echo; else echo -1; fi
done"#
);

/// The bytes of several files under `root` (missing ones are `None`), in one command.
pub fn read_files(
    host: &dyn Host,
    root: &str,
    paths: &[&str],
) -> Result<Vec<Option<Vec<u8>>>, HostError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["bash", "-c", READ_FILES, "vpai-read", root];
    args.extend_from_slice(paths);
    let out = host.run(&args, None)?;
    let mut pos = 0;
    let mut result = Vec::new();
    let data = &out.stdout;
    for _ in paths {
        let end = data[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| pos + i)
            .unwrap_or(data.len());
        let n: i64 = String::from_utf8_lossy(&data[pos..end])
            .trim()
            .parse()
            .unwrap_or(-1);
        pos = end + 1;
        if n < 0 {
            result.push(None);
            continue;
        }
        let n = n as usize;
        result.push(data.get(pos..pos + n).map(<[u8]>::to_vec));
        pos += n + 1;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_section() {
        let manifest = br#"{"files":[{"path":"a","sha256":"00"}],"services":{"x":"h"}}"#;
        let mut out = Vec::new();
        out.extend_from_slice(b"vpai-state 1\nlock stale\nlockinfo state=interrupted\nuid 0\n");
        out.extend_from_slice(b"file 0640 0 999 12 abcd configs/my file.conf\n");
        out.extend_from_slice(b"dir 0755 0 0 .\ndir 0700 0 0 env\n");
        out.extend_from_slice(format!("manifest {}\n", manifest.len()).as_bytes());
        out.extend_from_slice(manifest);
        out.extend_from_slice(b"\nrelease 20261122T000000000Z\ncurrent 20261122T000000000Z\n");
        out.extend_from_slice(b"docker 2\n[]\nend\n");
        let s = parse(&out).unwrap();
        assert_eq!(s.files["configs/my file.conf"].owner, (0, 999));
        assert_eq!(s.files["configs/my file.conf"].mode, 0o640);
        assert_eq!(s.dirs[""], (0o755, (0, 0)));
        assert_eq!(s.engine, EngineSeen::Ok);
        assert_eq!(
            s.lock,
            LockSeen::AcquiredAfterStale(vec!["state=interrupted".into()])
        );
        assert_eq!(manifest_files(s.manifest.as_deref().unwrap())["a"], "00");
        assert_eq!(manifest_services(s.manifest.as_deref().unwrap())["x"], "h");
        assert_eq!(s.current.as_deref(), Some("20261122T000000000Z"));
    }

    #[test]
    fn a_cut_answer_is_an_error() {
        assert!(parse(b"vpai-state 1\nuid 0\n").is_err());
        assert!(parse(b"bash: not found\n").is_err());
    }
}
