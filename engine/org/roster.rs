//! The fixed part of the demo organisation: the 18 people of the base roster, its four
//! teams and twelve services, and the pools that generated people and teams draw from.

/// Role in the reporting chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Director,
    Manager,
    Engineer,
}

pub struct Person {
    pub name: &'static str,
    pub title: &'static str,
    pub level: &'static str,
    /// Index into [`TEAMS`].
    pub team: usize,
    pub role: Role,
    pub location: &'static str,
    /// Years before `as_of` they joined (fractional).
    pub tenure_years: f64,
    pub skills: &'static [(&'static str, i64)],
}

pub const DIRECTOR: &str = "Priya Sharma";
/// Planted: far more open story points and pending reviews than any peer.
pub const OVERLOADED: &str = "Sofia Rossi";
/// Planted: the only person who has ever committed to [`SILO_SERVICE`].
pub const SILO_OWNER: &str = "Kenji Tanaka";
pub const SILO_SERVICE: &str = "ledger-service";
/// Planted: the team whose lead time degrades over the last [`DEGRADING_WEEKS`] weeks.
pub const DEGRADING_TEAM: &str = "Payments";
pub const DEGRADING_WEEKS: i64 = 6;
/// Planted: the week (index from the start of the history) of failing production deployments.
pub const FAILING_WEEK: i64 = 19;

use Role::*;

pub const ROSTER: [Person; 18] = [
    Person { name: "Priya Sharma", title: "Director of Engineering", level: "M2", team: 0, role: Director, location: "San Francisco", tenure_years: 6.2, skills: &[("Go", 4), ("AWS", 4), ("Kubernetes", 3), ("Security", 3)] },
    Person { name: "Marcus Johnson", title: "Engineering Manager", level: "M1", team: 0, role: Manager, location: "San Francisco", tenure_years: 4.1, skills: &[("Go", 3), ("Kubernetes", 4), ("Terraform", 3)] },
    Person { name: "Alex Kumar", title: "Senior Software Engineer", level: "L5", team: 0, role: Engineer, location: "Bangalore", tenure_years: 3.4, skills: &[("Python", 5), ("Go", 4), ("Kubernetes", 4), ("AWS", 3)] },
    Person { name: "Emily Zhang", title: "Software Engineer", level: "L4", team: 0, role: Engineer, location: "Toronto", tenure_years: 1.6, skills: &[("Go", 3), ("Terraform", 3), ("Observability", 2)] },
    Person { name: "Diego Fernandez", title: "Site Reliability Engineer", level: "L5", team: 0, role: Engineer, location: "Remote", tenure_years: 2.8, skills: &[("Kubernetes", 5), ("Terraform", 4), ("Observability", 5), ("AWS", 4)] },
    Person { name: "Hannah Schmidt", title: "Engineering Manager", level: "M1", team: 1, role: Manager, location: "Berlin", tenure_years: 5.0, skills: &[("Python", 4), ("SQL", 4), ("Spark", 3)] },
    Person { name: "Ravi Patel", title: "Senior Data Engineer", level: "L5", team: 1, role: Engineer, location: "Bangalore", tenure_years: 3.9, skills: &[("Python", 5), ("Spark", 5), ("Kafka", 4), ("SQL", 5)] },
    Person { name: "Chloe Martin", title: "Data Engineer", level: "L4", team: 1, role: Engineer, location: "London", tenure_years: 1.2, skills: &[("Python", 4), ("SQL", 4), ("Kafka", 2)] },
    Person { name: "Omar Haddad", title: "Machine Learning Engineer", level: "L5", team: 1, role: Engineer, location: "London", tenure_years: 2.3, skills: &[("Python", 5), ("Machine Learning", 5), ("Spark", 3)] },
    Person { name: "Grace Kim", title: "Engineering Manager", level: "M1", team: 2, role: Manager, location: "New York", tenure_years: 3.7, skills: &[("Swift", 3), ("Kotlin", 3), ("TypeScript", 3)] },
    Person { name: "Lucas Silva", title: "Senior iOS Engineer", level: "L5", team: 2, role: Engineer, location: "New York", tenure_years: 4.4, skills: &[("Swift", 5), ("GraphQL", 3), ("TypeScript", 2)] },
    Person { name: "Aisha Bello", title: "Android Engineer", level: "L4", team: 2, role: Engineer, location: "London", tenure_years: 2.0, skills: &[("Kotlin", 5), ("GraphQL", 3)] },
    Person { name: "Tom Becker", title: "Software Engineer", level: "L3", team: 2, role: Engineer, location: "Berlin", tenure_years: 0.7, skills: &[("TypeScript", 4), ("Node.js", 3), ("React", 3)] },
    Person { name: "Daniel Okafor", title: "Engineering Manager", level: "M1", team: 3, role: Manager, location: "New York", tenure_years: 4.8, skills: &[("Java", 4), ("PostgreSQL", 3), ("Security", 3)] },
    Person { name: "Sofia Rossi", title: "Staff Engineer", level: "L6", team: 3, role: Engineer, location: "Remote", tenure_years: 5.5, skills: &[("Java", 5), ("PostgreSQL", 5), ("Kafka", 4), ("Security", 4)] },
    Person { name: "Kenji Tanaka", title: "Senior Backend Engineer", level: "L5", team: 3, role: Engineer, location: "Toronto", tenure_years: 3.1, skills: &[("Rust", 5), ("PostgreSQL", 4), ("Java", 3)] },
    Person { name: "Laura Nguyen", title: "Backend Engineer", level: "L4", team: 3, role: Engineer, location: "San Francisco", tenure_years: 1.4, skills: &[("Java", 4), ("Python", 3), ("PostgreSQL", 3)] },
    Person { name: "Ben Carter", title: "Software Engineer", level: "L3", team: 3, role: Engineer, location: "Remote", tenure_years: 0.5, skills: &[("Java", 3), ("Python", 2)] },
];

pub struct TeamDef {
    pub name: &'static str,
    pub key: &'static str,
    pub description: &'static str,
    /// Skills its generated engineers draw from.
    pub skills: &'static [&'static str],
}

pub const TEAMS: [TeamDef; 4] = [
    TeamDef { name: "Platform", key: "PLAT", description: "Runtime, deployment and developer infrastructure", skills: &["Go", "Kubernetes", "Terraform", "AWS", "Observability"] },
    TeamDef { name: "Data", key: "DATA", description: "Data pipelines, warehouse and machine learning", skills: &["Python", "SQL", "Spark", "Kafka", "Machine Learning"] },
    TeamDef { name: "Mobile", key: "MOB", description: "iOS and Android apps and their backend-for-frontend", skills: &["Swift", "Kotlin", "TypeScript", "GraphQL", "React"] },
    TeamDef { name: "Payments", key: "PAY", description: "Payments, ledger and fraud detection", skills: &["Java", "PostgreSQL", "Kafka", "Security", "Rust"] },
];

/// Names of teams added when the organisation is scaled up (then numbered).
pub const EXTRA_TEAMS: [&str; 20] = [
    "Growth", "Search", "Identity", "Infrastructure", "Analytics", "Security", "Web", "Billing",
    "Notifications", "Messaging", "Checkout", "Marketplace", "Reliability", "Developer Experience",
    "Machine Learning", "Core API", "Integrations", "Localization", "Compliance", "Observability",
];

pub struct ServiceDef {
    pub name: &'static str,
    pub team: usize,
    /// Roster name of the tech lead.
    pub owner: &'static str,
    pub language: &'static str,
    pub tier: &'static str,
    pub description: &'static str,
    pub stack: &'static [&'static str],
    pub depends_on: &'static [&'static str],
}

pub const SERVICES: [ServiceDef; 12] = [
    ServiceDef { name: "api-gateway", team: 0, owner: "Alex Kumar", language: "Go", tier: "critical", description: "Edge routing, rate limiting and authentication hand-off for every public API", stack: &["Go", "Kubernetes"], depends_on: &["auth-service", "k8s-platform"] },
    ServiceDef { name: "auth-service", team: 0, owner: "Emily Zhang", language: "Go", tier: "critical", description: "Sessions, OAuth tokens and service-to-service identity", stack: &["Go", "PostgreSQL", "Security"], depends_on: &["k8s-platform"] },
    ServiceDef { name: "k8s-platform", team: 0, owner: "Diego Fernandez", language: "Terraform", tier: "critical", description: "Kubernetes clusters, CI/CD runners and observability stack", stack: &["Kubernetes", "Terraform", "AWS", "Observability"], depends_on: &[] },
    ServiceDef { name: "data-pipeline", team: 1, owner: "Ravi Patel", language: "Python", tier: "critical", description: "Streaming ingestion of product events into the warehouse", stack: &["Python", "Kafka", "Spark"], depends_on: &["k8s-platform"] },
    ServiceDef { name: "analytics-warehouse", team: 1, owner: "Chloe Martin", language: "SQL", tier: "standard", description: "Warehouse models, dashboards and data quality checks", stack: &["SQL", "Python"], depends_on: &["data-pipeline"] },
    ServiceDef { name: "recommendation-engine", team: 1, owner: "Omar Haddad", language: "Python", tier: "standard", description: "Personalised recommendations served to the apps", stack: &["Python", "Machine Learning"], depends_on: &["data-pipeline", "analytics-warehouse"] },
    ServiceDef { name: "ios-app", team: 2, owner: "Lucas Silva", language: "Swift", tier: "critical", description: "The iOS app", stack: &["Swift", "GraphQL"], depends_on: &["mobile-bff"] },
    ServiceDef { name: "android-app", team: 2, owner: "Aisha Bello", language: "Kotlin", tier: "critical", description: "The Android app", stack: &["Kotlin", "GraphQL"], depends_on: &["mobile-bff"] },
    ServiceDef { name: "mobile-bff", team: 2, owner: "Tom Becker", language: "TypeScript", tier: "critical", description: "GraphQL backend-for-frontend of the mobile apps", stack: &["TypeScript", "Node.js", "GraphQL"], depends_on: &["api-gateway", "payments-api", "recommendation-engine"] },
    ServiceDef { name: "payments-api", team: 3, owner: "Sofia Rossi", language: "Java", tier: "critical", description: "Card and wallet payments, refunds and payouts", stack: &["Java", "PostgreSQL", "Kafka"], depends_on: &["ledger-service", "fraud-detection", "auth-service"] },
    ServiceDef { name: "ledger-service", team: 3, owner: "Kenji Tanaka", language: "Rust", tier: "critical", description: "Double-entry ledger: the source of truth for every balance", stack: &["Rust", "PostgreSQL"], depends_on: &[] },
    ServiceDef { name: "fraud-detection", team: 3, owner: "Laura Nguyen", language: "Python", tier: "standard", description: "Real-time fraud scoring of payments", stack: &["Python", "Machine Learning", "Kafka"], depends_on: &["data-pipeline"] },
];

/// Every skill, with its category.
pub const SKILLS: [(&str, &str); 22] = [
    ("Python", "language"), ("Go", "language"), ("Rust", "language"), ("Java", "language"),
    ("Kotlin", "language"), ("Swift", "language"), ("TypeScript", "language"), ("SQL", "language"),
    ("React", "frontend"), ("GraphQL", "frontend"), ("Node.js", "backend"),
    ("Kubernetes", "infrastructure"), ("Terraform", "infrastructure"), ("AWS", "infrastructure"),
    ("Observability", "infrastructure"), ("PostgreSQL", "data"), ("Kafka", "data"), ("Spark", "data"),
    ("Machine Learning", "data"), ("Security", "practice"), ("CI/CD", "practice"), ("Testing", "practice"),
];

pub const FIRST_NAMES: [&str; 48] = [
    "Adam", "Bianca", "Carlos", "Dana", "Elif", "Farah", "Gabriel", "Hiro", "Ines", "Jonas",
    "Kavya", "Leo", "Mina", "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa", "Samir", "Tara",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Arjun", "Beatriz", "Chen", "Deepa",
    "Ethan", "Fatima", "Georg", "Hana", "Ivan", "Julia", "Karim", "Lena", "Mateo", "Nora",
    "Oscar", "Paula", "Rahul", "Sara", "Tomas", "Valeria", "William", "Yara",
];

pub const LAST_NAMES: [&str; 48] = [
    "Anderson", "Bauer", "Costa", "Dubois", "Eriksson", "Fischer", "Garcia", "Hoffmann", "Ivanova",
    "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Olsen", "Petrov", "Quintero", "Reyes",
    "Suzuki", "Torres", "Umar", "Varga", "Weber", "Xu", "Yilmaz", "Zimmermann", "Ahmed", "Brown",
    "Castillo", "Das", "Evans", "Forde", "Gupta", "Horvat", "Iyer", "Jovanovic", "Khan", "Lopez",
    "Mendes", "Nakamura", "Ortiz", "Park", "Ramos", "Singh", "Thompson", "Walsh", "Young", "Zhou",
];

pub const LOCATIONS: [&str; 7] = [
    "San Francisco", "New York", "London", "Berlin", "Bangalore", "Toronto", "Remote",
];
