use std::io;

/// Why a lab run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("the lab needs root (network namespaces, nftables, packet capture); run it as root")]
    NotRoot,
    #[error("the lab needs `{tool}` ({package}): install it with `apt-get install {package}`")]
    MissingTool {
        tool: &'static str,
        package: &'static str,
    },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("scenario {name}: {detail}")]
    Scenario { name: String, detail: String },
    #[error("no scenario named '{0}' (see `stalltrace lab list`)")]
    UnknownScenario(String),
    #[error("interrupted")]
    Interrupted,
}

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}
