//! The cloud platforms companies buy models through: Azure OpenAI's answers
//! and key check ([`azure`]), and Google's OAuth token endpoint and Vertex AI's
//! bearer-token check ([`google`]).

pub mod azure;
pub mod google;
