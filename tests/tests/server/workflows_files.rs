//! Files through workflows, end to end: a multipart request to a
//! Request-triggered workflow gives its text parts as the body and its
//! `paragon-file` part as a Paragon file object; Request steps send a file
//! object as a form-data file part or, with `X-Paragon-Encoding: hex`, as
//! the raw body; a binary answer becomes a file object; a FILE Response
//! step answers the file's bytes with its MIME type.

use crate::workflows_run::{deploy, enable, ended, fixture, step_output};
use reqwest::Method;
use serde_json::{Value, json};

const BOUNDARY: &str = "----weft-test-boundary";

/// A multipart body of text fields and files `(field, file name, type, bytes)`.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (name, file_name, mime, data) in files {
        out.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: {mime}\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

#[tokio::test]
async fn files_go_in_and_out_of_a_request_triggered_workflow_on_sqlite() {
    files(false).await;
}

#[tokio::test]
async fn files_go_in_and_out_of_a_request_triggered_workflow_on_postgresql() {
    files(true).await;
}

async fn files(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    let echo = f.mock.url_of("/api/echo");
    let yaml = format!(
        r#"name: Files
integration: test-proxy
trigger:
  type: request
  allowArbitraryPayload: false
  bodyValidations: [{{key: note, dataType: STRING, required: true}}, {{key: extra, dataType: FILE}}]
steps:
  - id: upload
    type: request
    method: POST
    url: {echo}?to=upload
    bodyType: form-data
    body: {{note: "{{{{trigger.output.request.body.note}}}}", doc: "{{{{trigger.output.request.file}}}}"}}
  - id: raw
    type: request
    method: POST
    url: {echo}?to=raw
    headers: {{X-Paragon-Encoding: hex}}
    bodyType: raw
    body: "{{{{trigger.output.request.file}}}}"
  - id: fetch
    type: request
    method: GET
    url: {bytes}
  - id: answer
    type: response
    responseType: FILE
    body: "{{{{fetch.output.response.body}}}}"
"#,
        bytes = f.mock.url_of("/api/bytes/300")
    );
    let workflow = deploy(&f, &yaml).await;
    enable(&f, "u1", &workflow).await;
    let url = format!("{}/projects/{}/sdk/triggers/{workflow}", f.app.base, f.project);
    let send = |body: Vec<u8>| {
        f.app
            .client
            .post(&url)
            .bearer_auth(f.token("u1"))
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(body)
            .send()
    };
    let report: &[u8] = b"quarterly numbers\x00\xff\x10";
    let extra: &[u8] = b"%PDF-1.7 not really";
    let body = multipart(
        &[("note", "hello")],
        &[("paragon-file", "report.bin", "application/x-report", report), ("extra", "a.pdf", "application/pdf", extra)],
    );
    let before = f.mock.count();
    let answer = send(body).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/octet-stream");
    let bytes = answer.bytes().await.unwrap();
    let expected: Vec<u8> = (0..300).map(weft_tests::mock_api::pattern_byte).collect();
    assert_eq!(bytes.as_ref(), expected.as_slice(), "the FILE response is the fetched file's bytes");

    // The provider got the file as a form-data file part, and as the raw
    // body with its type.
    let hits = f.mock.hits();
    let new = &hits[before..];
    let upload = new.iter().find(|h| h.uri.contains("to=upload")).expect("upload sent");
    let sent = &upload.body;
    assert!(sent.windows(report.len()).any(|w| w == report), "the file's bytes are in the upload");
    let text = String::from_utf8_lossy(sent);
    assert!(text.contains("filename=\"report.bin\"") && text.contains("content-type: application/x-report"), "{text}");
    assert!(text.contains("name=\"note\"\r\n\r\nhello"), "{text}");
    let raw = new.iter().find(|h| h.uri.contains("to=raw")).expect("raw sent");
    assert_eq!(raw.body.as_slice(), report, "the hex body is sent as its bytes");
    assert_eq!(raw.header("content-type"), Some("application/x-report"));
    assert!(raw.header("x-paragon-encoding").is_none(), "the encoding header is Weft's, not the provider's");

    // The trigger's output: text parts in the body, other files as file
    // objects there, the paragon-file part as the request's file.
    let executions = format!("/projects/{}/task-history/workflow-executions?workflowId={workflow}", f.project);
    let (_, list) = f.app.call(Method::GET, &executions, Some(&f.admin_key), None).await;
    let execution = list["workflowExecutions"][0]["id"].as_str().unwrap().to_owned();
    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    let trigger = step_output(&f, &execution, &record["stepExecutions"][0]).await;
    let request = &trigger["output"]["request"];
    assert_eq!(
        request["file"],
        json!({"name": "report.bin", "data": hex::encode(report), "mimeType": "application/x-report", "dataType": "FILE"})
    );
    assert_eq!(request["body"]["note"], "hello");
    assert_eq!(request["body"]["extra"]["data"], hex::encode(extra));
    assert!(request["body"].get("paragon-file").is_none(), "{request}");
    // The fetched file in the history is a file object too.
    let fetch = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "fetch").unwrap();
    let fetched = step_output(&f, &execution, fetch).await;
    assert_eq!(fetched["output"]["response"]["body"]["dataType"], "FILE", "{fetched}");
    assert_eq!(fetched["output"]["response"]["body"]["data"], hex::encode(&expected));

    // A body that breaks the validations, and a malformed one, are named.
    let no_note = multipart(&[], &[("paragon-file", "r.bin", "text/plain", b"x")]);
    let resp = send(no_note).await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "INVALID_REQUEST", "{body}");
    let text_as_file = multipart(&[("note", "n"), ("extra", "not a file")], &[]);
    let body: Value = send(text_as_file).await.unwrap().json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("extra must be FILE"), "{body}");
    let resp = send(format!("--{BOUNDARY}\r\nno headers end").into_bytes()).await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "INVALID_MULTIPART", "{body}");
}
