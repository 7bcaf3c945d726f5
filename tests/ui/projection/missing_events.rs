use es_core::Projection;

#[derive(Projection, Default)]
pub struct NoList;

#[derive(Projection, Default)]
#[projection(events(), colour = "red")]
pub struct EmptyList;

fn main() {}
