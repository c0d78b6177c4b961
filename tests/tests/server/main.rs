//! End-to-end tests of the server: the real application on port 0 with real
//! components in its plugin directory, over real HTTP on loopback; and the
//! real `weft` binary started as a child process.

mod actionkit;
mod actionkit_fields;
mod actionkit_logs;
mod admin;
mod authz;
mod basics;
mod binary;
mod catalog;
mod connect;
mod crash;
mod crash_queue;
mod custom;
mod custom_invalid;
mod custom_webhooks;
mod destinations;
mod malformed;
mod mcp;
mod plugin_fixture;
mod plugin_github;
mod plugin_google_calendar;
mod plugin_hubspot;
mod plugin_hubspot_events;
mod plugin_notion;
mod plugin_salesforce;
mod plugin_services;
mod plugin_slack;
mod plugin_slack_events;
mod provider_cases;
mod proxy;
mod resource_triggers;
mod resources;
mod slow_clients;
mod support;
mod task_history;
mod tenancy;
mod tokens;
mod workflows_accounts;
mod workflows_admin;
mod workflows_files;
mod workflows_functions;
mod workflows_leases;
mod workflows_run;
mod workflows_schedule;
mod workflows_triggers;
