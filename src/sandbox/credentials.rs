//! The demo credentials each emulator accepts.
//!
//! They are printed when the sandbox starts and served by
//! `GET /_sandbox/credentials`, so the demo and the tests never hard-code them.
//! Each emulator may derive further credentials from these (a second Django-CRM
//! organisation, Spark tokens of other roles); those are documented in the
//! emulator's own module.

use serde::Serialize;

/// Credentials for all four sources, in the shape `/_sandbox/credentials` serves.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Credentials {
    pub opentoclose: OpenToCloseCredentials,
    pub djangocrm: DjangoCrmCredentials,
    pub winnerr: WinnerrCredentials,
    pub spark: SparkCredentials,
}

/// Open To Close authenticates with an `api_token` query parameter.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OpenToCloseCredentials {
    pub api_token: String,
}

/// Django-CRM takes a Bearer token plus an `organization-id` header.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DjangoCrmCredentials {
    pub token: String,
    pub organization_id: String,
}

/// Winnerr takes a Bearer JWT.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WinnerrCredentials {
    pub token: String,
}

/// Spark takes a Bearer (or `OAuth`) token and requires `X-SparkApi-User-Agent`.
/// This token has the Private role.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SparkCredentials {
    pub token: String,
    pub user_agent: String,
    /// Further agents, each with contacts of its own that no other token
    /// sees (Spark's `/contacts` are the current user's).
    pub more_users: Vec<SparkUserCredentials>,
}

/// Another Spark agent: its Private-role token and its user id.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SparkUserCredentials {
    pub name: String,
    pub user_id: String,
    pub token: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            opentoclose: OpenToCloseCredentials {
                api_token: "otc_demo_8f14e45fceea167a".to_string(),
            },
            djangocrm: DjangoCrmCredentials {
                token: "djcrm-demo-3c59dc048e8850243be8079a5c74d079".to_string(),
                organization_id: "6f1c2a4e-9b7d-4c3e-8a21-5d0f7e9b1c2a".to_string(),
            },
            winnerr: WinnerrCredentials {
                token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudF9kZW1vIn0.d2lubmVycmRlbW8"
                    .to_string(),
            },
            spark: SparkCredentials {
                token: "spark_demo_private_1f0e3dad99908345f7439f8ffabdffc4".to_string(),
                user_agent: "ContactGatewayDemo/1.0".to_string(),
                more_users: vec![
                    SparkUserCredentials {
                        name: "agent2".to_string(),
                        user_id: "20110302154510883421000000".to_string(),
                        token: "spark_demo_agent2_6c8349cc7260ae62e3b1396831a8398f".to_string(),
                    },
                    SparkUserCredentials {
                        name: "agent3".to_string(),
                        user_id: "20140519093307125764000000".to_string(),
                        token: "spark_demo_agent3_d9d4f495e875a2e075a1a4a6e1b9770f".to_string(),
                    },
                ],
            },
        }
    }
}
