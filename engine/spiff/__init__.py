"""The SpiffWorkflow adapter, the restricted script environment and its evaluator processes, templating, safe XML."""
