"""Generated from proto/ by identity_context.protogen."""
