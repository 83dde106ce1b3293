"""The two fixed tables the reference embeds: package categories and ingestion methods.

Loading drops package categories that are not in the category table, the category
endpoints take titles and parents from it, and data streams and input packages get an
``ingestion_method`` from the input-type table. Both are plain data, kept in the
reference's order.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    """One built-in category; ``parent`` is the id of its top-level category, if any."""

    id: str
    title: str
    parent: str | None = None


def _categories(*rows: tuple[str, str, tuple[tuple[str, str], ...]]) -> dict[str, Category]:
    table: dict[str, Category] = {}
    for cid, title, subcategories in rows:
        table[cid] = Category(cid, title)
        for sub_id, sub_title in subcategories:
            table[sub_id] = Category(sub_id, sub_title, cid)
    return table


#: Category id → category, top-level categories each followed by their subcategories.
CATEGORIES: dict[str, Category] = _categories(
    ("aws", "AWS", ()),
    ("azure", "Azure", ()),
    ("cloud", "Cloud", ()),
    ("config_management", "Config management", ()),
    ("containers", "Containers", ()),
    ("crm", "CRM", ()),
    ("custom", "Custom", (("custom_logs", "Custom Logs"),)),
    ("datastore", "Database", ()),
    ("elastic_stack", "Elastic Stack", ()),
    ("elasticsearch_sdk", "Elasticsearch SDK", ()),
    (
        "enterprise_search",
        "Enterprise Search",
        (
            ("app_search", "Application Search"),
            ("connector", "Connector"),
            ("connector_client", "Connector Client"),
            ("connector_package", "Connector Package"),
            ("content_source", "Content Source"),
            ("crawler", "Crawler"),
            ("language_client", "Language Client"),
            ("native_search", "Native Search"),
            ("sdk_search", "SDK"),
            ("workplace_search", "Workplace Search"),
        ),
    ),
    ("google_cloud", "Google Cloud", ()),
    ("infrastructure", "Infrastructure", ()),
    ("languages", "Languages", ()),
    ("network", "Network", ()),
    (
        "observability",
        "Observability",
        (
            ("application_observability", "Application"),
            ("analytics_engine", "Analytics Engine"),
            ("big_data", "Big Data"),
            ("java_observability", "Java"),
            ("kubernetes", "Kubernetes"),
            ("load_balancer", "Load Balancer"),
            ("message_queue", "Message Broker"),
            ("monitoring", "Monitoring"),
            ("notification", "Notification"),
            ("process_manager", "Process Manager"),
            ("stream_processing", "Stream Processing"),
            ("virtualization", "Virtualization Platform"),
            ("web", "Web Server"),
            ("websphere", "WebSphere Application Server"),
        ),
    ),
    ("opentelemetry", "OpenTelemetry", ()),
    ("os_system", "Operating Systems", ()),
    ("productivity", "Productivity", ()),
    (
        "security",
        "Security",
        (
            ("advanced_analytics_ueba", "Advanced Analytics (UEBA)"),
            ("asset_inventory", "Asset Inventory"),
            ("auditd", "AuditD"),
            ("authentication", "Authentication"),
            ("cdn_security", "Content Delivery Network"),
            ("cloudsecurity_cdr", "Cloud Security/CDR"),
            ("credential_management", "Credential Management"),
            ("database_security", "Database"),
            ("dns_security", "DNS"),
            ("edr_xdr", "EDR/XDR"),
            ("email_security", "Email"),
            ("firewall_security", "Firewall"),
            ("iam", "Identity and Access Management"),
            ("ids_ips", "IDS/IPS"),
            ("misconfiguration_workflow", "Misconfiguration Workflow"),
            ("network_security", "Network"),
            ("productivity_security", "Productivity"),
            ("proxy_security", "Proxy"),
            ("siem", "SIEM"),
            ("threat_intel", "Threat Intelligence"),
            ("vpn_security", "VPN"),
            ("vulnerability_management", "Vulnerability Management"),
            ("vulnerability_workflow", "Vulnerability Workflow"),
            ("web_application_firewall", "Web Application Firewall"),
        ),
    ),
    ("support", "Support", ()),
    ("ticketing", "Ticketing", ()),
    ("version_control", "Version Control", ()),
)


def _ingestion_methods(groups: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {input_type: method for method, types in groups.items() for input_type in types}


#: Input type → ingestion method (exact, case-sensitive lookup; no entry → no method).
INGESTION_METHODS: dict[str, str] = _ingestion_methods(
    {
        "API": (
            "cel",
            "entity-analytics",
            "httpjson",
            "o365audit",
            "salesforce",
            "streaming",
            "websocket",
            "winlog",
            "apache/metrics",
            "aws/metrics",
            "awsfargate/metrics",
            "azure/metrics",
            "containerd/metrics",
            "docker/metrics",
            "elasticsearch/metrics",
            "enterprisesearch/metrics",
            "etcd/metrics",
            "gcp/metrics",
            "haproxy/metrics",
            "http/metrics",
            "kibana/metrics",
            "kubernetes/metrics",
            "logstash/metrics",
            "meraki/metrics",
            "nats/metrics",
            "nginx/metrics",
            "panw/metrics",
            "rabbitmq/metrics",
            "stan/metrics",
            "vsphere/metrics",
            "windows/metrics",
        ),
        "Database": (
            "memcached/metrics",
            "mongodb/metrics",
            "mysql/metrics",
            "postgresql/metrics",
            "redis",
            "redis/metrics",
            "sql/metrics",
            "zookeeper/metrics",
        ),
        "Jolokia": ("activemq/metrics", "jolokia/metrics", "kafka/metrics"),
        "File": ("filestream", "logfile", "linux/metrics", "system/metrics"),
        "Network Protocol": ("syslog", "tcp", "udp", "statsd/metrics"),
        "Webhook": ("http_endpoint",),
        "AWS S3": ("aws-s3",),
        "Azure Blob Storage": ("azure-blob-storage",),
        "AWS CloudWatch": ("aws-cloudwatch",),
        "Azure Event Hub": ("azure-eventhub",),
        "ETW": ("etw",),
        "GCP Pub/Sub": ("gcp-pubsub",),
        "Google Cloud Storage": ("gcs",),
        "Windows Performance Counters": ("iis/metrics",),
        "journald": ("journald",),
        "Kafka": ("kafka",),
        "Lumberjack": ("lumberjack",),
        "NetFlow": ("netflow",),
        "Prometheus": ("prometheus/metrics",),
    }
)
