//! Skills from what people touched: a language per file type, a few infrastructure
//! skills per file (Dockerfile, Terraform, CI workflows), and frameworks a service's
//! manifest depends on. Proficiency grows with recency-weighted commits: each commit that
//! touched the skill weighs `0.5^(age / half-life)`, age counted back from the newest
//! commit of the import, and the sum is banded 1 (aware) to 5 (expert).

/// A skill a file shows: name and category (the categories of `skills.category`).
pub fn of_file(path: &str) -> Option<(&'static str, &'static str)> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let lower = file.to_lowercase();
    if lower == "dockerfile" || lower.ends_with(".dockerfile") {
        return Some(("Docker", "infrastructure"));
    }
    if path.starts_with(".github/workflows/") {
        return Some(("GitHub Actions", "infrastructure"));
    }
    let ext = lower.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "rs" => ("Rust", "languages"),
        "py" => ("Python", "languages"),
        "go" => ("Go", "languages"),
        "ts" | "tsx" => ("TypeScript", "languages"),
        "js" | "jsx" | "mjs" | "cjs" => ("JavaScript", "languages"),
        "java" => ("Java", "languages"),
        "kt" | "kts" => ("Kotlin", "languages"),
        "swift" => ("Swift", "languages"),
        "c" | "h" => ("C", "languages"),
        "cc" | "cpp" | "cxx" | "hpp" | "hh" => ("C++", "languages"),
        "cs" => ("C#", "languages"),
        "rb" => ("Ruby", "languages"),
        "php" => ("PHP", "languages"),
        "scala" => ("Scala", "languages"),
        "ex" | "exs" => ("Elixir", "languages"),
        "sh" | "bash" => ("Shell", "languages"),
        "sql" => ("SQL", "data"),
        "tf" | "hcl" => ("Terraform", "infrastructure"),
        "html" | "htm" => ("HTML", "frontend"),
        "css" | "scss" | "sass" | "less" => ("CSS", "frontend"),
        "vue" => ("Vue", "frontend"),
        _ => return None,
    })
}

/// A framework or technology a dependency name stands for.
pub fn of_dependency(dep: &str) -> Option<(&'static str, &'static str)> {
    let d = dep.rsplit('/').next().unwrap_or(dep);
    Some(match d {
        "tokio" => ("Tokio", "backend"),
        "hyper" => ("Hyper", "backend"),
        "tower" | "tower-http" => ("Tower", "backend"),
        "serde" | "serde_json" => ("Serde", "backend"),
        "tonic" | "grpcio" | "grpc" | "@grpc/grpc-js" => ("gRPC", "backend"),
        "actix-web" => ("Actix", "backend"),
        "rocket" => ("Rocket", "backend"),
        "sqlx" | "diesel" | "sqlalchemy" | "gorm" | "prisma" => ("SQL", "data"),
        "tokio-postgres" | "postgres" | "pg" | "psycopg2" | "pgx" => ("PostgreSQL", "data"),
        "redis" | "ioredis" | "go-redis" => ("Redis", "data"),
        "rdkafka" | "kafkajs" | "kafka-python" | "confluent-kafka" | "sarama" => ("Kafka", "data"),
        "async-graphql" | "graphql" | "juniper" | "@apollo/server" => ("GraphQL", "backend"),
        "kube" | "client-go" => ("Kubernetes", "infrastructure"),
        "react" | "react-dom" => ("React", "frontend"),
        "vue" => ("Vue", "frontend"),
        "next" => ("Next.js", "frontend"),
        "express" => ("Express", "backend"),
        "django" => ("Django", "backend"),
        "flask" => ("Flask", "backend"),
        "fastapi" => ("FastAPI", "backend"),
        "spring-boot-starter-web" | "spring-boot" => ("Spring", "backend"),
        "gin" => ("Gin", "backend"),
        "pandas" => ("pandas", "data"),
        "numpy" => ("NumPy", "data"),
        "torch" | "pytorch" => ("PyTorch", "data"),
        "tensorflow" => ("TensorFlow", "data"),
        _ => return None,
    })
}

/// A commit's weight for skills: halves every `half_life_days` before `newest`.
pub fn weight(age_days: f64, half_life_days: i64) -> f64 {
    0.5f64.powf(age_days.max(0.0) / half_life_days as f64)
}

/// 1 (aware) to 5 (expert) from a recency-weighted commit count.
pub fn proficiency(score: f64) -> i64 {
    match score {
        s if s >= 30.0 => 5,
        s if s >= 10.0 => 4,
        s if s >= 3.0 => 3,
        s if s >= 1.0 => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_dependencies_and_recency_map_to_skills() {
        assert_eq!(of_file("axum/src/lib.rs"), Some(("Rust", "languages")));
        assert_eq!(of_file("Dockerfile").unwrap().0, "Docker");
        assert_eq!(
            of_file(".github/workflows/CI.yml").unwrap().0,
            "GitHub Actions"
        );
        assert_eq!(of_file("README.md"), None);
        assert_eq!(of_dependency("github.com/gin-gonic/gin").unwrap().0, "Gin");
        assert!((weight(365.0, 365) - 0.5).abs() < 1e-9);
        assert_eq!(proficiency(0.2), 1);
        assert_eq!(proficiency(31.0), 5);
    }
}
