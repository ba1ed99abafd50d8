pub async fn run(_data: Option<&std::path::Path>, _json: bool) -> crate::failure::Result<()> {
    Err(crate::failure::Failure::new("not yet"))
}
