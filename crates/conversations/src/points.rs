//! The capture points of a run: each has an index (what
//! [`Conversation::point`](crate::Conversation::point) holds) and a name,
//! given in order of first appearance. Every stage names points through
//! this one registry.

/// Capture point names by index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Points {
    names: Vec<String>,
}

impl Points {
    pub fn new(names: Vec<String>) -> Points {
        Points { names }
    }

    /// Adds the next point; returns its index.
    pub fn add(&mut self, name: String) -> u32 {
        self.names.push(name);
        (self.names.len() - 1) as u32
    }

    /// The name of point `p` ("point 3" for an index never added).
    pub fn name(&self, p: u32) -> String {
        self.names
            .get(p as usize)
            .cloned()
            .unwrap_or_else(|| format!("point {p}"))
    }

    /// The index of a point by name.
    pub fn index(&self, name: &str) -> Option<u32> {
        self.names.iter().position(|n| n == name).map(|i| i as u32)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
