//! Releases: every deploy that changes a file keeps the complete file set it deployed
//! under `<root>/releases/<timestamp>/` (with its manifest), and `releases/current`
//! points at the one the live files come from. The last N are kept.
//!
//! One command installs a release: the changed files arrive as one tar stream on its
//! stdin; the script assembles the full set in `releases/.partial-<name>` (unchanged
//! files copied from the live tree), checks every sha256 against the plan, fsyncs,
//! renames it into place, then replaces the live files. Each live file is replaced
//! atomically (temp in the same tree, mode and owner set before the rename, fsync,
//! `rename`), the manifest last, so that at any instant every file is either the old
//! or the new version, never a torn one. Rollback installs an older release the same
//! way, with nothing to upload. Data directories are never touched.

use crate::tar;
use std::time::{SystemTime, UNIX_EPOCH};
use vpai_host::{Host, HostError};

/// The manifest of a release (and of the live tree).
pub const MANIFEST_PATH: &str = "vpai-manifest.json";

/// How many releases to keep.
pub const KEEP: usize = 5;

/// A release name from the clock: `20261122T005300123Z` (UTC, milliseconds), so that
/// names sort in time order.
pub fn release_name(now: SystemTime) -> String {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{day:02}T{:02}{:02}{:02}{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 -> (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// One file of a release.
#[derive(Debug, Clone)]
pub struct ReleaseFile<'a> {
    pub path: &'a str,
    pub mode: u32,
    pub owner: (u32, u32),
    pub sha256: String,
    /// Its bytes when they must be uploaded; `None`: the live file already has them.
    pub upload: Option<&'a [u8]>,
    /// The live file must be replaced (content, mode or owner differ).
    pub install: bool,
}

/// Everything one install needs.
#[derive(Debug, Clone, Default)]
pub struct ReleasePlan<'a> {
    pub name: String,
    pub files: Vec<ReleaseFile<'a>>,
    /// Directories to create or fix: (path, mode, owner).
    pub dirs: Vec<(&'a str, u32, (u32, u32))>,
    /// Live files of the previous release that the new one no longer has.
    pub remove: Vec<String>,
    /// The release before this one (never pruned).
    pub previous: Option<String>,
}

const INSTALL: &str = concat!(
    vpai_host::nofollow_sh!(),
    r#"set -euo pipefail
umask 077
# Finish even if the controller vanishes mid-way: every step below is atomic, and a
# half-done install is completed by the next run anyway.
trap '' HUP PIPE
# Few processes (each fork costs milliseconds on a small VPS): after the tar stream is
# unpacked, one perl (perl-base is essential on Debian and Ubuntu) does the rest.
root=$1 name=$2 keep=$3 previous=$4
rel=$root/releases stage=$root/releases/.partial-$2 inc=$root/.vpai-incoming
isroot=0; [ "$EUID" = 0 ] && isroot=1
# Nothing below the root is followed if it is a symbolic link: a link planted in the
# tree would turn a root chmod/chown, a secret file or an `rm -rf` onto its target.
vpai_nofollow "$root" releases .vpai-incoming
# Leftovers of an interrupted run (the deploy lock is ours: nobody else writes here).
shopt -s nullglob
left=("$rel"/.partial-*); [ -e "$inc" ] && left+=("$inc")
[ ${#left[@]} -eq 0 ] || rm -rf -- "${left[@]}"
shopt -u nullglob
mkdir -p -m 0700 -- "$rel" "$stage"
tar -x -m -f - -C "$stage" --no-same-owner --no-same-permissions
checked=()
while IFS=$'\t' read -r _ _ _ path; do checked+=("$path"); done <"$stage/.vpai-dirs"
while IFS=$'\t' read -r _ _ _ _ _ _ path; do checked+=("$path"); done <"$stage/.vpai-files"
while IFS= read -r path; do [ -z "$path" ] || checked+=("$path"); done <"$stage/.vpai-remove"
vpai_nofollow "$root" "${checked[@]}"
# The full file set of the release: uploaded files are in the stage, the others are
# copied from the live tree and checked against the plan (a file changed on the host
# meanwhile must not slip into the release).
copy=() all=0 sums="" copied=""
while IFS=$'\t' read -r mode uid gid sha up inst path; do
  all=$((all + 1))
  sums+="$sha  $path"$'\n'
  [ "$up" = 0 ] && { copy+=("$path"); copied+="$sha  $path"$'\n'; }
done <"$stage/.vpai-files"
cd "$stage"
printf '%s' "$sums" >.vpai-sums
printf '%s\n' "$previous" >.vpai-previous
if [ ${#copy[@]} -gt 0 ]; then
  (cd "$root" && cp --parents -- "${copy[@]}" "$stage/")
  if ! printf '%s' "$copied" | sha256sum --quiet --strict -c - >&2; then
    echo "vpai: the assembled release does not match the plan (a file changed on the host meanwhile?)" >&2
    exit 3
  fi
fi
cd /
command -v perl >/dev/null || { echo "vpai: perl is missing on the host (perl-base, essential on Debian and Ubuntu)" >&2; exit 4; }
# The rest in one process, each fork costing milliseconds on a small VPS: directories of
# the live tree with their mode and owner; the release's modes and owners; the copies
# that replace live files, made in the live tree's filesystem (`.vpai-incoming`); then
# the commit, in order: every file durable, the release renamed into place and its
# directory synced, the live files renamed over the old ones (manifest last) and their
# directories synced, `current` moved, the files the release no longer has removed.
installed=$(perl -e '
use strict; use warnings; use IO::Handle; use Fcntl; use File::Path qw(make_path remove_tree);
my ($root, $stage, $rel, $name, $inc, $isroot) = @ARGV;
sub fail { die "vpai: $_[0]: $!\n" }
sub rows { my $f = shift; open(my $fh, "<", $f) or fail("read $f"); my @r;
  while (my $l = <$fh>) { chomp $l; push @r, [split /\t/, $l, -1] if $l ne "" } return @r }
sub owned { my ($p, $mode, $uid, $gid) = @_; chmod(oct($mode), $p) or fail("chmod $p");
  if ($isroot) { chown($uid, $gid, $p) or fail("chown $p") } }
sub durable { my $p = shift; sysopen(my $fh, $p, O_RDONLY) or fail("open $p"); $fh->sync or fail("fsync $p") }
sub dir_of { my $p = shift; return $p =~ m{^(.*)/[^/]*$} ? $1 : "." }
for my $d (rows("$stage/.vpai-dirs")) {
  my ($mode, $uid, $gid, $path) = @$d;
  my $p = "$root/$path";
  make_path($p) unless -d $p;
  owned($p, $mode, $uid, $gid);
}
my (@sync, @moves, $manifest, %parents);
for my $f (rows("$stage/.vpai-files")) {
  my ($mode, $uid, $gid, $sha, $up, $inst, $path) = @$f;
  owned("$stage/$path", $mode, $uid, $gid);
  push @sync, "$stage/$path";
  next unless $inst;
  my $to = "$inc/$path";
  make_path(dir_of($to));
  open(my $in, "<:raw", "$stage/$path") or fail("read $path");
  my $bytes = do { local $/; <$in> } // "";
  sysopen(my $out, $to, O_WRONLY | O_CREAT | O_EXCL, 0600) or fail("create $to");
  binmode $out;
  print {$out} $bytes or fail("write $to");
  close($out) or fail("write $to");
  owned($to, $mode, $uid, $gid);
  push @sync, $to;
  if ($path eq "vpai-manifest.json") { $manifest = $path } else { push @moves, $path }
  my $parent = $path =~ m{/} ? "$root/" . dir_of($path) : $root;
  make_path($parent) unless -d $parent;
  $parents{$parent} = 1;
}
push @moves, $manifest if defined $manifest;
durable($_) for @sync, map { "$stage/$_" } qw(.vpai-sums .vpai-files .vpai-dirs .vpai-remove .vpai-previous);
rename($stage, "$rel/$name") or fail("rename the release into place");
chmod(0700, $rel) or fail("chmod $rel");
durable($rel);
for (@moves) { rename("$inc/$_", "$root/$_") or fail("rename $_") }
durable($_) for sort keys %parents;
remove_tree($inc) if -e $inc;
unlink("$rel/.current-new");
symlink($name, "$rel/.current-new") or fail("link current");
rename("$rel/.current-new", "$rel/current") or fail("move current");
for (map { $_->[0] } rows("$rel/$name/.vpai-remove")) { unlink("$root/$_") or $!{ENOENT} or fail("remove $_") }
print scalar(@moves), "\n";
' "$root" "$stage" "$rel" "$name" "$inc" "$isroot")
# Keep the last $keep releases, and always the previous one (globs sort by name).
olds=("$rel"/[0-9]*)
n=${#olds[@]}
prune=()
for ((i = 0; i < n - keep; i++)); do
  r=${olds[i]##*/}
  [ "$r" = "$previous" ] || [ "$r" = "$name" ] || prune+=("${olds[i]}")
done
if [ ${#prune[@]} -gt 0 ]; then rm -rf -- "${prune[@]}"; fi
echo "installed $installed release $name"
"#
);

/// Upload the changed files and install the release, in one command.
pub fn install(host: &dyn Host, root: &str, plan: &ReleasePlan) -> Result<usize, HostError> {
    let mut tarball = Vec::new();
    let mut list = String::new();
    for f in &plan.files {
        check_path(host, f.path)?;
        list.push_str(&format!(
            "{:04o}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            f.mode,
            f.owner.0,
            f.owner.1,
            f.sha256,
            u8::from(f.upload.is_some()),
            u8::from(f.install),
            f.path
        ));
    }
    let mut dirs = String::new();
    for (path, mode, owner) in &plan.dirs {
        dirs.push_str(&format!("{mode:04o}\t{}\t{}\t{path}\n", owner.0, owner.1));
    }
    let remove: String = plan.remove.iter().map(|p| format!("{p}\n")).collect();
    tar::append(&mut tarball, ".vpai-files", list.as_bytes(), 0o600);
    tar::append(&mut tarball, ".vpai-dirs", dirs.as_bytes(), 0o600);
    tar::append(&mut tarball, ".vpai-remove", remove.as_bytes(), 0o600);
    for f in &plan.files {
        if let Some(bytes) = f.upload {
            tar::append(&mut tarball, f.path, bytes, 0o600);
        }
    }
    tar::finish(&mut tarball);
    let keep = KEEP.to_string();
    let previous = plan.previous.clone().unwrap_or_default();
    let out = host.run(
        &[
            "bash",
            "-c",
            INSTALL,
            "vpai-install",
            root,
            &plan.name,
            &keep,
            &previous,
        ],
        Some(&tarball),
    )?;
    if !out.success() {
        return Err(HostError::Io {
            path: format!("{}:{root}/releases/{}", host.name(), plan.name),
            source: std::io::Error::other(format!(
                "installing the release failed (exit {}): {}",
                out.status,
                out.stderr_text().trim()
            )),
        });
    }
    Ok(plan.files.iter().filter(|f| f.install).count())
}

fn check_path(host: &dyn Host, path: &str) -> Result<(), HostError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.split('/').any(|c| c == ".." || c.is_empty())
        || path.chars().any(|c| c.is_control())
        || !tar::fits(path);
    if bad {
        return Err(HostError::Io {
            path: format!("{}:{path}", host.name()),
            source: std::io::Error::other("refusing to deploy a file with this path"),
        });
    }
    Ok(())
}

/// Put the live tree back to release `$2`: the files that differ are replaced
/// atomically (manifest last), the files of the current release `$3` that the target
/// does not have are removed, and `current` moves. Nothing is uploaded. With `$4` = 1
/// the release left is marked failed (a later plain rollback skips it).
pub(crate) const RESTORE: &str = concat!(
    vpai_host::nofollow_sh!(),
    r#"set -euo pipefail
umask 077
trap '' HUP PIPE
root=$1 target=$2 current=$3 failed=$4
rel=$root/releases src=$root/releases/$2 inc=$root/.vpai-incoming
case $target in ''|*/*|.*) echo "vpai: no release $target under $rel" >&2; exit 4;; esac
vpai_nofollow "$root" releases .vpai-incoming "releases/$target"
keep_attrs=mode; [ "$(id -u)" = 0 ] && keep_attrs=mode,ownership
[ -d "$src" ] || { echo "vpai: no release $target under $rel" >&2; exit 4; }
(cd "$src" && sha256sum --quiet --strict -c .vpai-sums >&2) || { echo "vpai: release $target is damaged" >&2; exit 3; }
declare -A want=()
paths=()
while IFS=$'\t' read -r mode uid gid sha up inst path; do
  want[$path]="$sha $mode $uid $gid"; paths+=("$path")
done <"$src/.vpai-files"
vpai_nofollow "$root" "${paths[@]}"
if [ -n "$current" ] && [ -f "$rel/$current/.vpai-files" ]; then
  while IFS=$'\t' read -r _ _ _ _ _ _ path; do vpai_nofollow "$root" "$path"; done <"$rel/$current/.vpai-files"
fi
# What the live files are now (one stat, one sha256sum).
present=()
for p in "${paths[@]}"; do [ -f "$root/$p" ] && present+=("$p"); done
declare -A have=()
if [ ${#present[@]} -gt 0 ]; then
  mapfile -t st < <(cd "$root" && stat -c '%04a %u %g' -- "${present[@]}")
  mapfile -t sums < <(cd "$root" && sha256sum -- "${present[@]}" | cut -c1-64)
  for i in "${!present[@]}"; do have[${present[i]}]="${sums[i]} ${st[i]}"; done
fi
install=()
for p in "${paths[@]}"; do [ "${have[$p]:-}" = "${want[$p]}" ] || install+=("$p"); done
rm -rf "$inc"
if [ ${#install[@]} -gt 0 ]; then
  mkdir -p "$inc"
  (cd "$src" && cp --preserve="$keep_attrs" --parents -- "${install[@]}" "$inc/")
  (cd "$inc" && sync -- "${install[@]}")
  last=""
  for p in "${install[@]}"; do
    if [ "$p" = vpai-manifest.json ]; then last=$p; continue; fi
    d=$root; case $p in */*) d=$root/${p%/*};; esac
    mkdir -p -- "$d"
    mv -f -- "$inc/$p" "$root/$p"
  done
  sync -- "$root"
  if [ -n "$last" ]; then mv -f -- "$inc/$last" "$root/$last"; fi
  rm -rf "$inc"
fi
if [ -n "$current" ] && [ -f "$rel/$current/.vpai-files" ]; then
  while IFS=$'\t' read -r mode uid gid sha up inst path; do
    if [ -z "${want[$path]:-}" ]; then rm -f -- "$root/$path"; fi
  done <"$rel/$current/.vpai-files"
fi
if [ "$failed" = 1 ] && [ -n "$current" ] && [ -d "$rel/$current" ]; then : >"$rel/$current/.vpai-failed"; fi
ln -sfn "$target" "$rel/.current-new" && mv -fT "$rel/.current-new" "$rel/current"
echo "restored ${#install[@]}"
"#
);

/// Restore release `target` on the live tree (files only). Returns how many files
/// were replaced.
pub fn restore(
    host: &dyn Host,
    root: &str,
    target: &str,
    current: Option<&str>,
    mark_failed: bool,
) -> Result<usize, HostError> {
    let out = host.run(
        &[
            "bash",
            "-c",
            RESTORE,
            "vpai-restore",
            root,
            target,
            current.unwrap_or(""),
            if mark_failed { "1" } else { "0" },
        ],
        None,
    )?;
    if !out.success() {
        return Err(HostError::Io {
            path: format!("{}:{root}/releases/{target}", host.name()),
            source: std::io::Error::other(format!(
                "restoring the release failed (exit {}): {}",
                out.status,
                out.stderr_text().trim()
            )),
        });
    }
    Ok(out
        .stdout_text()
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::time::Duration;
    use vpai_host::LocalHost;

    fn file<'a>(path: &'a str, bytes: &'a [u8], upload: bool) -> ReleaseFile<'a> {
        ReleaseFile {
            path,
            mode: 0o640,
            owner: (0, 0),
            sha256: hex::encode(Sha256::digest(bytes)),
            upload: upload.then_some(bytes),
            install: true,
        }
    }

    /// The install and restore scripts, run for real with bash on this machine.
    #[test]
    fn install_then_restore_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let r = root.display().to_string();
        let host = LocalHost;
        let v1 = ReleasePlan {
            name: "20260101T000000000Z".into(),
            files: vec![
                file("a.conf", b"one\n", true),
                file("configs/x/b.env", b"SECRET=1\n", true),
                file("vpai-manifest.json", b"{\"v\":1}\n", true),
            ],
            dirs: vec![("", 0o755, (0, 0)), ("configs/x", 0o700, (0, 0))],
            remove: vec![],
            previous: None,
        };
        assert_eq!(install(&host, &r, &v1).unwrap(), 3);
        assert_eq!(
            std::fs::read(root.join("configs/x/b.env")).unwrap(),
            b"SECRET=1\n"
        );
        // v2: a.conf unchanged (copied from the live tree), b.env changed, c.conf new.
        let mut a = file("a.conf", b"one\n", false);
        a.install = false;
        let v2 = ReleasePlan {
            name: "20260101T000000001Z".into(),
            files: vec![
                a,
                file("configs/x/b.env", b"SECRET=2\n", true),
                file("c.conf", b"new\n", true),
                file("vpai-manifest.json", b"{\"v\":2}\n", true),
            ],
            dirs: vec![],
            remove: vec![],
            previous: Some(v1.name.clone()),
        };
        assert_eq!(install(&host, &r, &v2).unwrap(), 3);
        assert_eq!(
            std::fs::read(root.join("releases/20260101T000000001Z/a.conf")).unwrap(),
            b"one\n"
        );
        let state = crate::state::parse(
            &host
                .run(
                    &crate::state::state_args(&test_stack(&root), "read", "", &["a.conf"], &[])
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                    None,
                )
                .unwrap()
                .stdout,
        )
        .unwrap();
        assert_eq!(state.current.as_deref(), Some("20260101T000000001Z"));
        assert_eq!(state.previous["20260101T000000001Z"], "20260101T000000000Z");
        assert_eq!(state.files["a.conf"].mode, 0o640);
        // Back to v1: b.env restored, c.conf (not in v1) removed, current moved.
        assert_eq!(
            restore(&host, &r, &v1.name, Some(&v2.name), true).unwrap(),
            2
        );
        assert_eq!(
            std::fs::read(root.join("configs/x/b.env")).unwrap(),
            b"SECRET=1\n"
        );
        assert!(!root.join("c.conf").exists());
        assert_eq!(
            std::fs::read_link(root.join("releases/current"))
                .unwrap()
                .to_str(),
            Some(v1.name.as_str())
        );
        assert!(
            root.join("releases/20260101T000000001Z/.vpai-failed")
                .exists()
        );
        let leftovers: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with(".vpai"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    /// A link planted in the deploy tree is refused, on the remote side too (the same
    /// script runs there): the review's `data/postgresql -> /some/dir` turned the target
    /// into 700 999:999, and `env -> /tmp` received every env file.
    #[test]
    fn install_refuses_links_in_the_tree_and_leaves_their_targets_alone() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let victim = dir.path().join("victim");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::create_dir(&victim).unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let r = root.display().to_string();
        let mode_of =
            |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let try_install = |plan: &ReleasePlan| {
            let err = install(&LocalHost, &r, plan).unwrap_err().to_string();
            assert!(err.contains("symbolic link"), "{err}");
            assert_eq!(mode_of(&victim), 0o755);
            assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
            err
        };
        // A data directory.
        symlink(&victim, root.join("data/postgresql")).unwrap();
        let plan = ReleasePlan {
            name: "20260101T000000000Z".into(),
            files: vec![file("a.conf", b"one\n", true)],
            dirs: vec![("data/postgresql", 0o700, (999, 999))],
            ..Default::default()
        };
        let err = try_install(&plan);
        assert!(err.contains("data/postgresql"), "{err}");
        std::fs::remove_file(root.join("data/postgresql")).unwrap();
        // The parent of a secret file.
        symlink(&victim, root.join("env")).unwrap();
        let plan = ReleasePlan {
            name: "20260101T000000001Z".into(),
            files: vec![file("env/n8n.env", b"SECRET=1\n", true)],
            ..Default::default()
        };
        try_install(&plan);
        std::fs::remove_file(root.join("env")).unwrap();
        // A managed file itself.
        std::fs::write(victim.join("../target.conf"), b"keep").unwrap();
        symlink(dir.path().join("target.conf"), root.join("a.conf")).unwrap();
        let plan = ReleasePlan {
            name: "20260101T000000002Z".into(),
            files: vec![file("a.conf", b"one\n", true)],
            ..Default::default()
        };
        try_install(&plan);
        assert_eq!(
            std::fs::read(dir.path().join("target.conf")).unwrap(),
            b"keep"
        );
        std::fs::remove_file(root.join("a.conf")).unwrap();
        // The releases directory (an `rm -rf` of its leftovers would follow it).
        std::fs::remove_dir_all(root.join("releases")).ok();
        symlink(&victim, root.join("releases")).unwrap();
        try_install(&plan);
        std::fs::remove_file(root.join("releases")).unwrap();
        // Without the links, the same plan installs.
        assert_eq!(install(&LocalHost, &r, &plan).unwrap(), 1);
    }

    fn test_stack(root: &std::path::Path) -> vpai_model::Stack {
        vpai_model::Stack {
            project: "releasetest".into(),
            domain: "localhost".into(),
            tls: "internal",
            acme_email: None,
            timezone: "UTC".into(),
            locale: "en-US".into(),
            http_port: 80,
            https_port: 443,
            health_endpoint: true,
            root: root.to_path_buf(),
            networks: vec![],
            services: vec![],
            hosts: vec![],
            host_facts: Default::default(),
            project_files: Default::default(),
            access: Default::default(),
            allow_ports: Vec::new(),
            swarm: None,
            backup: vpai_model::BackupSettings::defaults("releasetest"),
        }
    }

    #[test]
    fn release_names_sort_in_time_order() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_307_580_123);
        assert_eq!(release_name(t), "20261122T003300123Z");
        assert_eq!(release_name(UNIX_EPOCH), "19700101T000000000Z");
        let later = t + Duration::from_millis(1);
        assert!(release_name(later) > release_name(t));
    }
}
