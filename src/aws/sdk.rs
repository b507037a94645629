//! One SDK configuration per run, and the per-service, per-region clients built from it.

use aws_config::{BehaviorVersion, Region};

use crate::error::{Error, Result};

/// Where the SDK's configuration comes from beyond its own defaults (`--profile`, `--region`,
/// `--endpoint-url`): plain values, so this module knows nothing of the command line.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// The loaded SDK configuration and the home region (where the StackSet lives).
#[derive(Clone)]
pub struct Aws {
    sdk: aws_config::SdkConfig,
    home_region: String,
}

impl Aws {
    /// Load the default credential chain, honouring `--profile`, `--region` and
    /// `--endpoint-url` (the SDK itself reads `AWS_ENDPOINT_URL`, `AWS_REGION`, profiles).
    pub async fn load(options: &AwsOptions) -> Result<Aws> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let home_region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
            Error::Usage(
                "no AWS region: pass --region, set AWS_REGION, or set a region in the profile"
                    .into(),
            )
        })?;
        Ok(Aws { sdk, home_region })
    }

    /// For tests: wrap an already built configuration.
    pub fn from_sdk_config(sdk: aws_config::SdkConfig) -> Option<Aws> {
        let home_region = sdk.region()?.to_string();
        Some(Aws { sdk, home_region })
    }

    pub fn home_region(&self) -> &str {
        &self.home_region
    }

    /// Set when talking to an emulator; changes S3 addressing only.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.sdk.endpoint_url()
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }

    /// Account Management: a global service, the SDK picks its endpoint for the partition.
    pub fn account(&self) -> aws_sdk_account::Client {
        aws_sdk_account::Client::new(&self.sdk)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    pub fn lambda(&self, region: &str) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.sdk_config_for(region))
    }

    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.sdk)
    }

    /// CloudFormation in the home region (StackSets are managed there).
    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    /// S3 in `region`. A custom endpoint (an emulator on 127.0.0.1) cannot serve
    /// virtual-hosted bucket names, so path-style addressing is used there.
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_string()))
            .force_path_style(self.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// The configuration, for clients of other crates (stage logging) built per region.
    pub fn sdk_config_for(&self, region: &str) -> aws_config::SdkConfig {
        self.sdk
            .to_builder()
            .region(Region::new(region.to_string()))
            .build()
    }
}
