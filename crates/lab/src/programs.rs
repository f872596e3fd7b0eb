//! The real programs of the field, where Debian packages them: sendmail,
//! OpenSSH's sshd, xinetd running popa3d, oidentd on the NAT device,
//! dnsmasq as the name server, and
//! glibc's own resolver through `getent`. Each is started in a namespace
//! in the foreground with a configuration of its own written beside the
//! run's captures (`<out>/programs/`), its output logged there, and killed
//! with its namespace. `scripts/test` installs them; a scenario that needs
//! one that is missing says which package to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{io_err, LabError};
use crate::netns::{Launched, Netns};

/// The name server's address, on the firewall's outside link.
pub const RESOLVER: &str = "203.0.113.53";

/// A program and the Debian package it comes in.
pub struct Needed {
    pub program: &'static str,
    pub package: &'static str,
}

pub const SENDMAIL: Needed = Needed {
    program: "/usr/sbin/sendmail",
    package: "sendmail-bin",
};
pub const SSHD: Needed = Needed {
    program: "/usr/sbin/sshd",
    package: "openssh-server",
};
pub const SSH: Needed = Needed {
    program: "/usr/bin/ssh",
    package: "openssh-client",
};
pub const SSH_KEYGEN: Needed = Needed {
    program: "/usr/bin/ssh-keygen",
    package: "openssh-client",
};
pub const XINETD: Needed = Needed {
    program: "/usr/sbin/xinetd",
    package: "xinetd",
};
pub const POPA3D: Needed = Needed {
    program: "/usr/sbin/popa3d",
    package: "popa3d",
};
pub const OIDENTD: Needed = Needed {
    program: "/usr/sbin/oidentd",
    package: "oidentd",
};
pub const DNSMASQ: Needed = Needed {
    program: "/usr/sbin/dnsmasq",
    package: "dnsmasq-base",
};
pub const GETENT: Needed = Needed {
    program: "/usr/bin/getent",
    package: "libc-bin",
};

/// Every program in `needed` is installed, or which package to install.
pub fn check(needed: &[&Needed]) -> Result<(), LabError> {
    for n in needed {
        if !Path::new(n.program).exists() {
            return Err(LabError::MissingTool {
                tool: n.program,
                package: n.package,
            });
        }
    }
    Ok(())
}

/// Where a run keeps its programs' configurations and logs.
pub fn dir(out: &Path) -> Result<PathBuf, LabError> {
    let d = out.join("programs");
    std::fs::create_dir_all(&d).map_err(io_err(format!("creating {}", d.display())))?;
    // Absolute: the daemons change directory before they write there.
    d.canonicalize()
        .map_err(io_err(format!("resolving {}", d.display())))
}

fn write(path: &Path, text: &str) -> Result<(), LabError> {
    std::fs::write(path, text).map_err(io_err(format!("writing {}", path.display())))
}

/// A namespace's resolver is `nameserver` (glibc's defaults otherwise),
/// and its own name resolves locally (sendmail and sshd look it up at
/// start; the machine's host name is shared by every namespace).
pub fn resolving(ns: &Netns, nameserver: &str, own: &str) -> Result<(), LabError> {
    ns.etc("resolv.conf", &format!("nameserver {nameserver}\n"))?;
    let host = hostname();
    ns.etc(
        "hosts",
        // Both families, or a daemon's AAAA lookup of its own name goes
        // to the (perhaps silent) name server as it starts.
        &format!(
            "127.0.0.1 localhost\n::1 localhost {host}.example.org {host}\n{own} mail.example.org mail {host}.example.org {host}\n"
        ),
    )
}

fn hostname() -> String {
    let mut b = [0u8; 256];
    let rc = unsafe { libc::gethostname(b.as_mut_ptr().cast(), b.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).to_string()
}

/// A socket that listens: a TCP listener or a bound UDP socket.
#[derive(Clone, Copy)]
pub enum Listener {
    Tcp,
    Udp,
}

/// Waits until something listens on `port` in `ns` (a daemon that looks
/// itself up at start may take seconds).
pub fn wait_listening(
    ns: &Netns,
    kind: Listener,
    port: u16,
    limit: std::time::Duration,
) -> Result<(), LabError> {
    let (flags, what) = match kind {
        Listener::Tcp => ("-Hltn", "a listener"),
        Listener::Udp => ("-Hlun", "a UDP listener"),
    };
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        let out = ns.exec("ss", &[flags, &format!("sport = :{port}")], None)?;
        if !out.trim().is_empty() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(LabError::Command {
        command: format!("waiting for {what} on port {port}"),
        detail: format!("none after {limit:?}"),
    })
}

/// Debian's sendmail as installed (Timeout.ident 5 s, greet_pause 1 s in
/// its stock sendmail.mc), listening on `addr`.
pub fn sendmail(ns: &Netns, addr: &str, out: &Path) -> Result<Launched, LabError> {
    check(&[&SENDMAIL])?;
    let d = dir(out)?;
    let daemon = format!("DaemonPortOptions=Family=inet,Name=MTA,Port=25,Addr={addr}");
    // Its own pid file: two runs at once must not share Debian's.
    let pid = format!("PidFile={}", d.join("sendmail.pid").display());
    let p = ns.launch(
        SENDMAIL.program,
        &["-bD", "-O", &daemon, "-O", &pid],
        &d.join("sendmail.log"),
    )?;
    wait_listening(ns, Listener::Tcp, 25, std::time::Duration::from_secs(30))?;
    Ok(p)
}

/// OpenSSH's sshd with `UseDNS yes`, and a `Match Host` block, so that it
/// resolves every client's name before it answers the user's request.
pub fn sshd(ns: &Netns, addr: &str, out: &Path) -> Result<Launched, LabError> {
    check(&[&SSHD, &SSH_KEYGEN])?;
    let d = dir(out)?;
    let key = d.join("ssh_host_ed25519_key");
    keygen(&key)?;
    // The user's key, authorised for root: the login succeeds, so nothing
    // but the lookup delays it (a failed one waits sshd's own back-off).
    let user = d.join("id_ed25519");
    keygen(&user)?;
    let public = std::fs::read_to_string(d.join("id_ed25519.pub"))
        .map_err(io_err("reading the user's public key"))?;
    let authorized = d.join("authorized_keys");
    write(&authorized, &public)?;
    // sshd's privilege separation directory.
    std::fs::create_dir_all("/run/sshd").map_err(io_err("creating /run/sshd"))?;
    let config = d.join("sshd_config");
    write(
        &config,
        &format!(
            "ListenAddress {addr}\nPort 22\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nPermitRootLogin prohibit-password\nUseDNS yes\nUsePAM no\nStrictModes no\nMatch Host nothing.example.org\n  PasswordAuthentication no\n",
            key.display(),
            d.join("sshd.pid").display(),
            authorized.display()
        ),
    )?;
    let c = config.display().to_string();
    let p = ns.launch(SSHD.program, &["-D", "-e", "-f", &c], &d.join("sshd.log"))?;
    wait_listening(ns, Listener::Tcp, 22, std::time::Duration::from_secs(10))?;
    Ok(p)
}

/// A key pair at `path` (and `path.pub`), unless there is one.
fn keygen(path: &Path) -> Result<(), LabError> {
    if path.exists() {
        return Ok(());
    }
    let st = Command::new(SSH_KEYGEN.program)
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .map_err(io_err("ssh-keygen"))?;
    if !st.success() {
        return Err(LabError::Command {
            command: "ssh-keygen".into(),
            detail: format!("{st}"),
        });
    }
    Ok(())
}

/// xinetd running popa3d for POP3, with `USERID` logged (an ident lookup
/// of every client before popa3d starts), as the seed's server did.
pub fn xinetd_popa3d(ns: &Netns, addr: &str, out: &Path) -> Result<Launched, LabError> {
    check(&[&XINETD, &POPA3D])?;
    let d = dir(out)?;
    let config = d.join("xinetd.conf");
    write(
        &config,
        &format!(
            "defaults\n{{\n}}\nservice pop3\n{{\n  socket_type = stream\n  protocol = tcp\n  wait = no\n  user = root\n  server = {}\n  bind = {addr}\n  log_type = FILE {}\n  log_on_success = HOST USERID\n  log_on_failure = HOST USERID\n  disable = no\n}}\n",
            POPA3D.program,
            d.join("xinetd-service.log").display()
        ),
    )?;
    let c = config.display().to_string();
    let pid = d.join("xinetd.pid").display().to_string();
    let p = ns.launch(
        XINETD.program,
        &["-dontfork", "-f", &c, "-pidfile", &pid],
        &d.join("xinetd.log"),
    )?;
    wait_listening(ns, Listener::Tcp, 110, std::time::Duration::from_secs(10))?;
    Ok(p)
}

/// dnsmasq as the name server on `addr`: it answers for
/// www.example.org (A and AAAA) and the lab's addresses (PTR).
pub fn dnsmasq(ns: &Netns, addr: &str, out: &Path) -> Result<Launched, LabError> {
    check(&[&DNSMASQ])?;
    let d = dir(out)?;
    let listen = format!("--listen-address={addr}");
    let pid = format!("--pid-file={}", d.join("dnsmasq.pid").display());
    let p = ns.launch(
        DNSMASQ.program,
        &[
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--user=root",
            &pid,
            &listen,
            "--host-record=www.example.org,203.0.113.80,2001:db8:2::80",
            "--host-record=client.example.org,203.0.113.171",
            "--host-record=direct.example.org,203.0.113.170",
            "--log-queries",
            "--log-facility=-",
        ],
        &d.join("dnsmasq.log"),
    )?;
    wait_listening(ns, Listener::Udp, 53, std::time::Duration::from_secs(10))?;
    Ok(p)
}

/// The name server of a run: dnsmasq on [`RESOLVER`], an address of the
/// firewall's outside link (the server reaches it straight, the client
/// through the firewall's input); the server's and the client's resolvers
/// pointed at it.
pub fn name_server(n: &crate::topology::Nodes, out: &Path) -> Result<Launched, LabError> {
    let fw = n.fw.as_ref().ok_or_else(|| LabError::Command {
        command: "name server".into(),
        detail: "the run has no firewall to put it on".into(),
    })?;
    fw.ip(&["addr", "add", &format!("{RESOLVER}/24"), "dev", "eth1"])?;
    resolving(&n.server, RESOLVER, crate::topology::SERVER)?;
    resolving(&n.client, RESOLVER, crate::topology::INSIDE_CLIENT)?;
    dnsmasq(fw, RESOLVER, out)
}

/// oidentd on `addr`, answering for masqueraded inside hosts from its
/// masquerade map (`host user`), as the NAT device's own identd.
pub fn oidentd(
    ns: &Netns,
    addr: &str,
    masq: &[(&str, &str)],
    out: &Path,
) -> Result<Launched, LabError> {
    check(&[&OIDENTD])?;
    let d = dir(out)?;
    // Its map's path is compiled in; `ip netns exec` mounts the
    // namespace's own over it.
    let map: String = masq
        .iter()
        .map(|(host, user)| format!("{host}\t{user}\tUNIX\n"))
        .collect();
    ns.etc("oidentd_masq.conf", &map)?;
    let p = ns.launch(
        OIDENTD.program,
        &[
            "-i", "-S", "-m", "-d", "-u", "root", "-g", "root", "-a", addr,
        ],
        &d.join("oidentd.log"),
    )?;
    wait_listening(ns, Listener::Tcp, 113, std::time::Duration::from_secs(10))?;
    Ok(p)
}
