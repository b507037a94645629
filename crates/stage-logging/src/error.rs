//! One error type for the crate: every failure is an AWS call that went wrong, named by the call.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An AWS API call failed (after the SDK's retries).
    #[error("{call} failed: {message}")]
    Aws {
        /// e.g. `apigateway:UpdateStage restapis/abc/stages/prod`
        call: String,
        /// The AWS error code, when the service sent one (e.g. `TooManyRequestsException`).
        code: Option<String>,
        message: String,
    },
    /// The previous-settings tag on a stage cannot be read back.
    #[error("stage {stage}: the recorded previous logging settings cannot be read: {message}")]
    PreviousSettings { stage: String, message: String },
}

impl Error {
    pub(crate) fn aws<E, R>(call: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_owned);
        Error::Aws {
            call: call.to_owned(),
            code,
            // The plain Display says only "service error": walk the source chain.
            message: crate::error_chain(&err),
        }
    }

    /// The same error with `note` after its message: what the caller knows of the cause.
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        let (Error::Aws { message, .. } | Error::PreviousSettings { message, .. }) = &mut self;
        message.push_str(" (");
        message.push_str(note);
        message.push(')');
        self
    }

    /// PutSubscriptionFilter refused a destination that is usually usable moments later (a
    /// role or permission still propagating): worth trying again soon, unlike a full group.
    pub fn destination_not_ready(&self) -> bool {
        match self {
            Error::Aws { code, message, .. } => {
                crate::subscription_plan::destination_not_ready(code.as_deref(), message)
            }
            Error::PreviousSettings { .. } => false,
        }
    }

    /// The AWS error code, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => code.as_deref(),
            Error::PreviousSettings { .. } => None,
        }
    }
}

/// The call's output, or None when its target does not exist (ResourceNotFoundException): for
/// reads that ask whether something exists and deletes that may be re-run.
pub(crate) fn found<T, E, R>(
    call: &str,
    result: Result<T, SdkError<E, R>>,
) -> Result<Option<T>, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(Error::aws(call, e)),
    }
}
