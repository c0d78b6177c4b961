//! ActionKit over MCP, driven by a published MCP client (the `rmcp` crate's
//! Streamable HTTP client): a connected user's tools are listed with their
//! annotations and called as the user's account; a bad call is the tool's
//! error result; another user sees only their own tools; no token, no MCP.

use crate::proxy::fixture::ProxyFixture;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

async fn client(
    f: &ProxyFixture,
    user: &str,
) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ClientConfig>, rmcp::service::ClientInitializeError> {
    let uri = format!("{}/projects/{}/mcp", f.app.base, f.project);
    let config = StreamableHttpClientTransportConfig::with_uri(uri).auth_header(f.token(user));
    let transport = StreamableHttpClientTransport::from_config(config);
    let info = ClientConfig::new(ClientCapabilities::default(), Implementation::new("weft-test", "0.1.0"));
    info.serve(transport).await
}

#[tokio::test]
async fn an_mcp_client_lists_and_calls_the_users_tools() {
    let f = ProxyFixture::new().await;
    f.connect("u1", "key-of-u1-mcp").await;
    let mcp = client(&f, "u1").await.expect("the client initializes");
    let server = mcp.peer_info().expect("server info");
    assert_eq!(server.server_info.as_ref().map(|i| i.name.as_str()), Some("weft"));
    assert!(server.capabilities.tools.is_some());

    let tools = mcp.list_tools(Default::default()).await.expect("tools/list");
    let names: Vec<&str> = tools.tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["TEST_PROXY_ECHO", "TEST_PROXY_GET", "TEST_PROXY_FETCH", "TEST_PROXY_FETCH_UNPAUSED"]);
    let get = &tools.tools[1];
    assert_eq!(get.input_schema.get("required"), Some(&json!(["url"])));
    let annotations = get.annotations.as_ref().expect("annotations");
    assert_eq!((annotations.read_only_hint, annotations.destructive_hint), (Some(true), Some(false)));

    let before = f.mock.count();
    let args = json!({"url": "/echo?via=mcp"}).as_object().cloned().unwrap();
    let result = mcp.call_tool(CallToolRequestParams::new("TEST_PROXY_GET").with_arguments(args)).await.expect("call");
    assert_eq!(result.is_error, Some(false));
    let output = result.structured_content.expect("structured output");
    assert_eq!(output["body"]["uri"], "/api/echo?via=mcp", "{output}");
    assert_eq!(output["body"]["headers"]["x-api-key"], weft_credentials::REDACTED);
    assert_eq!(f.mock.hits()[before].header("x-api-key"), Some("key-of-u1-mcp"));

    // Parameters off the schema: the tool's error result names the path.
    let bad = json!({"url": 7}).as_object().cloned().unwrap();
    let result = mcp.call_tool(CallToolRequestParams::new("TEST_PROXY_GET").with_arguments(bad)).await.expect("call");
    assert_eq!(result.is_error, Some(true));
    let text = serde_json::to_value(&result.content).unwrap().to_string();
    assert!(text.contains("INVALID_PARAMETERS") && text.contains("/url"), "{text}");
    let result = mcp.call_tool(CallToolRequestParams::new("NO_SUCH_TOOL")).await.expect("call");
    assert_eq!(result.is_error, Some(true));
    mcp.cancel().await.unwrap();

    // u2 has connected nothing: no tools.
    let other = client(&f, "u2").await.expect("u2 initializes");
    assert!(other.list_tools(Default::default()).await.unwrap().tools.is_empty());
    other.cancel().await.unwrap();

    // Without a token the endpoint refuses, in the error shape.
    let url = format!("{}/projects/{}/mcp", f.app.base, f.project);
    let resp =
        f.app.client.post(&url).json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(body["meta"]["requestId"].is_string(), "{body}");
    // Plain JSON-RPC: an unknown method is -32601; a notification is 202.
    let post = |body: Value| f.app.client.post(&url).bearer_auth(f.token("u1")).json(&body).send();
    let resp = post(json!({"jsonrpc": "2.0", "id": 2, "method": "resources/list"})).await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], -32601);
    let resp = post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await.unwrap();
    assert_eq!(resp.status(), 202);
}
