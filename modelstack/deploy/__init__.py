"""Deploying a model: releases, state, the rollout orchestrator and the engines it drives."""
